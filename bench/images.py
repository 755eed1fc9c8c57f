#!/usr/bin/env python3
"""Image benchmark: build times, sizes, time-to-ready and idle memory of the apps' runtime images
on the air-gapped bases (engine/bases.sh), side by side with the figures before issue 14.

For each app, on a copy of its build context (tracked files are never modified):
  cold       `docker build --no-cache` (BuildKit cache mounts, e.g. the npm/uv caches and Next's
             build cache, are kept unless --prune-cache-mounts)
  no-change  the same build again
  one-file   the same build after appending a comment to one source file of the copy
then the image's size (uncompressed, as `docker image inspect` reports it), what a registry stores
(the compressed layers and config pushed to the loopback registry 127.0.0.1:5000), its size above
its runtime base; the seconds from `docker run` (hardened: read-only, caps dropped, UID 1000,
512 MiB) until the app answers its readiness path on 127.0.0.1 (the engine's health status follows
one health-check period later: the image's own HEALTHCHECK, with its start interval), and its idle
memory 10 s after it is ready (`docker stats`: usage; `ps`: RSS, a health check running at that
moment not counted; /proc: how much of the app's RSS is anonymous memory and how much file-backed
pages of its binary and libraries). The backend gets a real postgres and redis from dockyard's
images on a throwaway network; their idle memory is reported too.

`--baseline REV` measures the apps as they were at git revision REV (their runtime stage on the
full bases, as then) and writes bench/baseline.json, which every later run prints beside its own
figures. Prints a table and writes bench/results/images.json.
Usage: python3 bench/images.py [--app backend|frontend ...] [--prune-cache-mounts] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

# testing/'s standard-library modules only: this runs under python3 without the program's packages.
from testing import dockerlib as dl  # noqa: E402  (needs the project root on sys.path)
from testing import reference_app  # noqa: E402

RESULTS = PROJECT_DIR / "bench" / "results" / "images.json"
BASELINE = PROJECT_DIR / "bench" / "baseline.json"
HEALTH_BOUND_S = 180
IDLE_SETTLE_S = 10
REGISTRY = "127.0.0.1:5000"  # engine/registry.sh: plain HTTP, loopback only
BASES = {"backend": "dockyard/base-python:3.11-bookworm", "frontend": "dockyard/base-node:22-bookworm"}
RUNTIME_BASES = {"backend": "dockyard/runtime-python:3.11-bookworm", "frontend": "dockyard/runtime-node:22-bookworm"}
# The reference app's built services as the catalog runs them (testing/reference_app.py).
READY_PATH = reference_app.READINESS_PATHS
PORTS = {name: reference_app.PORTS[name] for name in reference_app.BUILT}
TMPFS = reference_app.WRITABLE_PATHS
# The file a developer most often edits; a comment appended keeps the build valid.
CHANGED_FILE = {"backend": ("src/todo_api/api.py", "\n# bench: one source file changed\n"),
                "frontend": ("src/app/page.tsx", "\n// bench: one source file changed\n")}  # fmt: skip
# Local installs and build output are never part of a build context (see .dockerignore).
COPY_IGNORE = shutil.ignore_patterns("node_modules", ".next", ".venv", "__pycache__", "build", "*.tsbuildinfo")


def timed_build(context: Path, tag: str, base: str, runtime_base: str, no_cache: bool = False) -> float:
    args = {"BASE_IMAGE": base, "RUNTIME_BASE_IMAGE": runtime_base, "APP_VERSION": "0.0.0-bench",
            "BUILDKIT_INLINE_CACHE": "1"}  # fmt: skip
    extra = ["--no-cache"] if no_cache else []
    start = time.monotonic()
    cmd = ["build", "--progress=plain", "--target", "runtime", "-t", tag, *extra]
    for k, v in args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    if dl.CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=ca_bundle,src={dl.CA_BUNDLE}"]
    dl.docker(*cmd, str(context), timeout=1800)
    return time.monotonic() - start


def registry_size(tag: str) -> float | None:
    """Bytes a registry stores for the image (compressed layers + config), pushed to the loopback
    registry; None when it is not running."""
    repo, _, ref = tag.rpartition(":")
    remote = f"{REGISTRY}/{repo}:{ref}"
    try:
        dl.docker("tag", tag, remote)
        dl.docker("push", "--quiet", remote, timeout=600)
        request = urllib.request.Request(
            f"http://{REGISTRY}/v2/{repo}/manifests/{ref}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json,"
                               "application/vnd.oci.image.manifest.v1+json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            manifest = json.load(response)
    except (dl.DockerError, urllib.error.URLError, OSError) as e:
        print(f"registry size of {tag}: {e}", file=sys.stderr)
        return None
    finally:
        dl.docker("rmi", remote, check=False)
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def idle_memory(container: str) -> dict:
    """`docker stats` usage (cgroup, page cache excluded), the RSS of the container's processes
    (not counting a health check that happens to run at that moment), and what the main process's
    RSS is made of: anonymous memory (heaps) and file-backed pages (binary, shared libraries)."""
    usage = dl.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0].strip()
    info = dl.inspect(container)
    probe = " ".join((info["Config"].get("Healthcheck") or {}).get("Test", [])[1:])
    top = [line.split(None, 2) for line in dl.docker("top", container, "-o", "pid,rss,args").splitlines()[1:]]
    rss_kib = sum(int(rss) for _pid, rss, args in top if not (probe and args.strip() == probe))
    row = {"stats_usage": usage, "stats_mib": _mib(usage), "rss_mib": round(rss_kib / 1024, 1)}
    return row | rss_composition(info["State"]["Pid"])


def rss_composition(pid: int) -> dict:
    """RssAnon and RssFile of a process (MiB), read from the host's /proc; {} where it cannot be."""
    try:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except OSError:
        return {}
    return {f"main_{key.lower()}_mib": round(int(status[key].split()[0]) / 1024, 1) for key in ("RssAnon", "RssFile")}


def _mib(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 2**20, "kB": 1e3 / 2**20, "MB": 1e6 / 2**20}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * units[unit], 1)
    raise ValueError(f"not a memory figure: {text!r}")


def wait_ready(container: str, port: int, path: str, bound: float = HEALTH_BOUND_S) -> float | None:
    """Seconds (from now) until http://127.0.0.1:<published port><path> answers 200."""
    start = time.monotonic()
    host_port = None
    while time.monotonic() - start < bound:
        try:
            host_port = host_port or dl.host_port(container, port)
            with urllib.request.urlopen(f"http://127.0.0.1:{host_port}{path}", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except (dl.DockerError, urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return None


def start_datastores(network: str) -> list[str]:
    pg = dl.run_container(
        "dockyard/postgres:15-bookworm",
        name=dl.unique("bench-postgres"),
        run_args=[*dl.hardened_args("999:999", tmpfs=("/tmp", "/var/run/postgresql")),
                  "--network", network, "--network-alias", "postgres",
                  "-e", "POSTGRES_USER=todo", "-e", "POSTGRES_PASSWORD=bench", "-e", "POSTGRES_DB=todo"],
    )  # fmt: skip
    redis = dl.run_container(
        "dockyard/redis:7-bookworm",
        name=dl.unique("bench-redis"),
        run_args=[*dl.hardened_args("999:999"), "--network", network, "--network-alias", "redis"],
    )
    for c in (pg, redis):
        status = dl.wait_health(c, 90)
        if status != "healthy":
            raise dl.DockerError(f"{c} did not become healthy ({status}):\n{dl.logs(c)}")
    return [pg, redis]


def run_app(app: str, tag: str, network: str) -> dict:
    env: list[str] = []
    if app == "backend":
        env = ["-e", "DATABASE_URL=postgresql+psycopg://todo:bench@postgres:5432/todo",
               "-e", "REDIS_URL=redis://redis:6379/0"]  # fmt: skip
        migrate = dl.run_container(
            tag, "python", "-m", "todo_api.migrate", name=dl.unique("bench-migrate"),
            run_args=[*dl.hardened_args("1000:1000"), "--network", network, *env],
        )  # fmt: skip
        if dl.wait_exit(migrate, 120) != 0:
            raise dl.DockerError(f"migrations failed:\n{dl.logs(migrate)}")
    else:
        env = ["-e", "BACKEND_URL=http://backend:8000"]
    start = time.monotonic()
    c = dl.run_container(
        tag,
        name=dl.unique(f"bench-{app}"),
        run_args=[*dl.hardened_args("1000:1000", tmpfs=TMPFS[app]), "--network", network,
                  "--network-alias", app, "-p", f"127.0.0.1::{PORTS[app]}", *env],
    )  # fmt: skip
    ready = wait_ready(c, PORTS[app], READY_PATH[app])
    row: dict = {"start_to_ready_s": None if ready is None else time.monotonic() - start}
    status = dl.wait_health(c, HEALTH_BOUND_S)
    row["start_to_healthy_s"] = time.monotonic() - start if status == "healthy" else None
    if ready is None or status != "healthy":
        print(f"{app}: {status}\n{dl.logs(c)}", file=sys.stderr)
        return row
    time.sleep(IDLE_SETTLE_S)
    row["idle_memory"] = idle_memory(c)
    return row


def bench_app(app: str, network: str, workdir: Path, apps_dir: Path, runtime_base: str) -> dict:
    context = workdir / app
    shutil.copytree(apps_dir / app, context, ignore=COPY_IGNORE)
    tag = f"dockyard-bench/{app}:runtime"
    base = BASES[app]
    row: dict = {"app": app, "base": base, "runtime_base": runtime_base}
    row["cold_build_s"] = timed_build(context, tag, base, runtime_base, no_cache=True)
    row["no_change_build_s"] = timed_build(context, tag, base, runtime_base)
    rel, comment = CHANGED_FILE[app]
    with (context / rel).open("a") as fh:
        # Unique per run: BuildKit's cache is keyed by content, and the same edit as an earlier
        # run would be a cache hit instead of a rebuild.
        fh.write(comment.replace("changed", f"changed {time.time_ns()}"))
    row["one_file_changed_build_s"] = timed_build(context, tag, base, runtime_base)
    row["size_mb"] = dl.image_size(tag) / 1e6
    row["size_above_base_mb"] = (dl.image_size(tag) - dl.image_size(runtime_base)) / 1e6
    stored = registry_size(tag)
    row["registry_mb"] = None if stored is None else stored / 1e6
    row.update(run_app(app, tag, network))
    return row


def engine_description() -> str:
    version = dl.docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})").strip()
    return f"Docker {version}, {platform.machine()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores"


def checkout(rev: str, dest: Path) -> Path:
    """apps/ as at git revision REV (for the baseline)."""
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", rev, "apps"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "apps"


def base_images_warm_seconds() -> float:
    start = time.monotonic()
    subprocess.run(["bash", str(PROJECT_DIR / "engine" / "bases.sh")], check=True, capture_output=True)
    return time.monotonic() - start


COLUMNS = [("cold_build_s", "cold build s", "{:.1f}"), ("no_change_build_s", "no-change s", "{:.1f}"),
           ("one_file_changed_build_s", "one-file s", "{:.1f}"), ("size_mb", "size MB", "{:.1f}"),
           ("registry_mb", "registry MB", "{:.1f}"), ("size_above_base_mb", "+base MB", "{:.1f}"),
           ("start_to_ready_s", "ready s", "{:.2f}"), ("start_to_healthy_s", "healthy s", "{:.1f}"),
           ("idle_rss_mib", "idle RSS MiB", "{:.1f}"), ("idle_main_rssanon_mib", "  of it: anon MiB", "{:.1f}"),
           ("idle_main_rssfile_mib", "  of it: files MiB", "{:.1f}"), ("idle_stats_mib", "stats MiB", "{:.1f}")]  # fmt: skip


def _cell(row: dict | None, key: str, fmt: str) -> str:
    if row is None:
        return "-"
    value = row.get(key)
    if key.startswith("idle_"):
        value = (row.get("idle_memory") or {}).get(key.removeprefix("idle_"))
    return "-" if value is None else fmt.format(value)


def print_table(rows: list[dict], baseline: dict | None) -> None:
    before = {r["app"]: r for r in (baseline or {}).get("apps", [])}
    print(f"{'':<22}" + "".join(f"{row['app']:>24}" for row in rows))
    header = "".join(f"{'before':>12}{'after':>12}" for _ in rows)
    print(f"{'':<22}{header}")
    for key, title, fmt in COLUMNS:
        cells = "".join(f"{_cell(before.get(row['app']), key, fmt):>12}{_cell(row, key, fmt):>12}" for row in rows)
        print(f"{title:<22}{cells}")
    if baseline:
        print(
            f"before: {baseline.get('revision', '?')} on {baseline.get('engine', '?')}, bases {baseline.get('bases')}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", nargs="+", choices=sorted(BASES), default=sorted(BASES))
    ap.add_argument("--prune-cache-mounts", action="store_true",
                    help="also drop BuildKit cache mounts first (slows other builds on this engine)")  # fmt: skip
    ap.add_argument(
        "--baseline", metavar="REV", help="measure apps/ as at git revision REV and write bench/baseline.json"
    )
    args = ap.parse_args(argv)
    bases_warm = base_images_warm_seconds()  # also starts dockerd and builds missing bases
    if args.prune_cache_mounts:
        dl.docker("builder", "prune", "-f", "--filter", "type=exec.cachemount")
    network = dl.unique("bench-net")
    rows = []
    try:
        dl.docker("network", "create", *dl.label_args(), network)
        datastores = start_datastores(network)
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
            apps_dir = checkout(args.baseline, Path(tmp)) if args.baseline else PROJECT_DIR / "apps"
            # The backend first (it stays up, as `backend` on the network, for the frontend).
            for app in sorted(args.app):
                runtime_base = BASES[app] if args.baseline else RUNTIME_BASES[app]
                rows.append(bench_app(app, network, Path(tmp), apps_dir, runtime_base))
        datastore_memory = {name: idle_memory(c) for name, c in zip(("postgres", "redis"), datastores, strict=True)}
    finally:
        dl.cleanup_session()
    result = {"engine": engine_description(), "base_images_warm_s": bases_warm, "apps": rows,
              "datastores_idle_memory": datastore_memory}  # fmt: skip
    if args.baseline:
        rev = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", args.baseline],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        result.update(revision=rev, bases=BASES)
        BASELINE.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {BASELINE.relative_to(PROJECT_DIR)}")
    baseline = None if args.baseline or not BASELINE.is_file() else json.loads(BASELINE.read_text())
    print_table(rows, baseline)
    print(f"after: {result['engine']}, runtime bases {RUNTIME_BASES if not args.baseline else BASES}")
    print(f"idle memory of the datastores: {datastore_memory}")
    print(f"base images, warm (no-op) run: {bases_warm:.1f}s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return 0 if all(r["start_to_healthy_s"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
