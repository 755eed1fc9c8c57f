"""Benchmark: load + validate + resolve a catalog of 100, 1,000 and 10,000 services.

Each size runs in its own process (so peak memory is that size's alone): the project's catalog
plus generated services, each pinned by tag, with a port, a health check, env templates that
reach the services it talks to, and every tenth one using a secret of its own. The stack is
dev (Pulumi.dev.yaml). Prints a table and writes bench/results/catalog.json. Goal (issue 21):
10,000 services in under 10 s and 500 MB.

    python -m bench.catalog [sizes…]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.record import write_results

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_DIR / "bench" / "results" / "catalog.json"
BASELINE = PROJECT_DIR / "bench" / "catalog_baseline.json"  # before issue 21, for comparison
SIZES = (100, 1_000, 10_000)
GOAL_SECONDS, GOAL_MB = 10.0, 500.0


def generated_service(index: int, peers: list[str]) -> dict[str, Any]:
    """One valid service that talks to `peers` and names them in its env."""
    env = {"LOG_LEVEL": "info", "INDEX": str(index)}
    for peer in peers:
        key = peer.upper().replace("-", "_")
        env[f"{key}_URL"] = f"http://{{host:{peer}}}:{{port:{peer}}}/"
    if index % 10 == 0:
        env["TOKEN"] = f"{{secret:token-{index}}}"
    return {
        "image": "example/app:1.0.0",
        "port": 8080,
        "env": env,
        "health": {"client": ["app", "check"], "readiness": {"path": "/readyz"}, "liveness": {"path": "/livez"}},
        "resources": {"memory": "64Mi", "cpu": "100m"},
        "talksTo": peers,
    }


def catalog_of(size: int) -> dict[str, Any]:
    """The project's catalog grown to `size` services."""
    raw = yaml.safe_load((PROJECT_DIR / "catalog.yaml").read_text(encoding="utf-8"))
    names: list[str] = []
    for index in range(size - len(raw["services"])):
        name = f"svc-{index:05d}"
        # Up to three earlier generated services: a wide graph, no cycles.
        peers = [names[i] for i in (index - 1, index // 2, index - 7) if 0 <= i < index]
        raw["services"][name] = generated_service(index, list(dict.fromkeys(peers)))
        if index % 10 == 0:
            raw["secrets"][f"token-{index}"] = {"owner": name, "generate": {"length": 32}}
        names.append(name)
    catalog: dict[str, Any] = raw
    return catalog


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_in_this_process(path: Path) -> dict[str, Any]:
    """Times of each phase and this process's peak RSS (run in a fresh process per size)."""
    sys.path.insert(0, str(PROJECT_DIR))
    from components.config.catalog_file import load_catalog
    from components.plan.resolve import resolve_view
    from components.plan.validate import checked_view

    settings_raw = {
        key.split(":", 1)[1]: value
        for key, value in yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"].items()
    }
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    catalog = load_catalog(path)
    loaded = time.perf_counter()
    view = checked_view("dev", settings_raw, set(), PROJECT_DIR, catalog)  # as __main__.py does
    validated = time.perf_counter()
    stack = resolve_view(view)
    resolved = time.perf_counter()
    # Every service is resolved but the monitoring one, which waits for dev.monitoring (off in dev).
    expected = {spec.name for spec in catalog.services if spec.monitoring is None}
    if set(stack.services) != expected:  # a wrong result must not be timed (and python -O keeps this check)
        raise RuntimeError(f"resolved {sorted(set(stack.services) ^ expected)} differently from the catalog")
    return {
        "services": len(catalog.services),
        "load_seconds": round(loaded - start, 3),
        "validate_seconds": round(validated - loaded, 3),
        "resolve_seconds": round(resolved - validated, 3),
        "total_seconds": round(resolved - start, 3),
        # CPU time too: on a machine shared with other work, wall time says more about the load.
        "cpu_seconds": round(_cpu_seconds() - cpu_start, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure(size: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "catalog.yaml"
        path.write_text(yaml.safe_dump(catalog_of(size), sort_keys=False), encoding="utf-8")
        try:
            done = subprocess.run(  # nosec B603 -- argv list, no shell: this interpreter running this benchmark's own child
                [sys.executable, "-m", "bench.catalog", "--measure", str(path)],
                cwd=PROJECT_DIR,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
            )
        except subprocess.TimeoutExpired:
            return {"services": size, "timed_out_after_seconds": timeout}
        measured: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return measured


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    print(f"{'services':>9}{'load s':>9}{'validate s':>12}{'resolve s':>11}{'total s':>9}{'cpu s':>9}{'peak MB':>9}")
    for row in rows:
        if "timed_out_after_seconds" in row:
            print(f"{row['services']:>9}  timed out after {row['timed_out_after_seconds']:.0f} s")
            continue
        print(
            f"{row['services']:>9}{row['load_seconds']:>9.2f}{row['validate_seconds']:>12.2f}"
            f"{row['resolve_seconds']:>11.2f}{row['total_seconds']:>9.2f}{row['cpu_seconds']:>9.2f}{row['peak_mb']:>9.1f}"
        )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--measure"]:
        print(json.dumps(measure_in_this_process(Path(args[1]))))
        return []
    sizes = [int(arg) for arg in args] or list(SIZES)
    timeout = float(os.environ.get("BENCH_CATALOG_TIMEOUT", "900"))
    rows = [measure(size, timeout) for size in sizes]
    print_table("now", rows)
    if BASELINE.exists():
        print_table(f"before ({BASELINE.relative_to(PROJECT_DIR)})", json.loads(BASELINE.read_text())["catalog"])
    write_results(RESULTS, "catalog", rows, goal={"services": 10_000, "seconds": GOAL_SECONDS, "peak_mb": GOAL_MB})
    return rows


if __name__ == "__main__":
    main()
