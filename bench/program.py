"""Benchmark: time to evaluate each stack's program under Pulumi's mocks, and its resource count.

Prints a table and writes bench/results/program.json. Not a test: numbers, no thresholds.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from tests.harness import PROJECT_DIR, run_program

RESULTS = Path(__file__).resolve().parent / "results" / "program.json"
RUNS = 5
# What each stack needs from outside to evaluate (mocked StackReference, secrets).
STAGING_IMAGES = {
    service: f"registry.example.com/dockyard/{service}@sha256:{'ab' * 32}" for service in ("backend", "frontend")
}


def stack_arguments(stack: str) -> dict:
    if stack == "prod":
        return {
            "secrets": {"databaseUrl": "postgresql+psycopg://todo:x@db.example.com:5432/todo"},
            "stack_outputs": {name: {"images": STAGING_IMAGES} for name in _promotion_sources()},
        }
    if stack == "staging":
        return {"secrets": {"registryPassword": "bench"}}
    return {}


def _promotion_sources() -> list[str]:
    import yaml

    path = PROJECT_DIR / "Pulumi.prod.yaml"
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {}) if path.exists() else {}
    source = (config.get("dockyard:promotion") or {}).get("fromStack")
    return [source] if source else []


def measure(stack: str) -> dict:
    seconds = []
    resources = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        run = run_program(stack, **stack_arguments(stack))
        seconds.append(time.perf_counter() - start)
        resources = len(run.resources)
    return {
        "stack": stack,
        "resources": resources,
        "median_seconds": round(statistics.median(seconds), 3),
        "max_seconds": round(max(seconds), 3),
        "runs": RUNS,
    }


def stacks() -> list[str]:
    return [s for s in ("dev", "staging", "prod") if (PROJECT_DIR / f"Pulumi.{s}.yaml").exists()]


def main() -> list[dict]:
    rows = [measure(stack) for stack in stacks()]
    print(f"{'stack':<10}{'resources':>10}{'median s':>10}{'max s':>10}")
    for row in rows:
        print(f"{row['stack']:<10}{row['resources']:>10}{row['median_seconds']:>10.3f}{row['max_seconds']:>10.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(), "system": platform.platform()},
        "program": rows,
    }, indent=2))
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return rows


if __name__ == "__main__":
    main()
