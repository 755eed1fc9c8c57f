#!/usr/bin/env python3
"""Image benchmark: build times, sizes and time-to-healthy of the apps' runtime images on the
air-gapped bases (engine/bases.sh).

For each app, on a copy of its build context (tracked files are never modified):
  cold       `docker build --no-cache` (BuildKit cache mounts, e.g. the npm/uv caches, are kept
             unless --prune-cache-mounts)
  no-change  the same build again
  one-file   the same build after appending a comment to one source file of the copy
then the image's size, its size above its base, and the seconds from `docker run` (hardened:
read-only, caps dropped, UID 1000, 512 MiB) to a `healthy` health status; the backend gets a real
postgres and redis from dockyard's images on a throwaway network.

Prints a table and writes bench/results/images.json.
Usage: python3 bench/images.py [--app backend|frontend ...] [--prune-cache-mounts]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tests.engine import dockerlib as dl  # noqa: E402  (needs the project root on sys.path)

RESULTS = PROJECT_DIR / "bench" / "results" / "images.json"
HEALTH_BOUND_S = 180
BASES = {"backend": "dockyard/base-python:3.11-bookworm", "frontend": "dockyard/base-node:22-bookworm"}
PORTS = {"backend": 8000, "frontend": 3000}
TMPFS = {"backend": ("/tmp",), "frontend": ("/tmp", "/app/.next/cache")}
# The file a developer most often edits; a comment appended keeps the build valid.
CHANGED_FILE = {"backend": ("src/todo_api/api.py", "\n# bench: one source file changed\n"),
                "frontend": ("src/app/page.tsx", "\n// bench: one source file changed\n")}  # fmt: skip
# Local installs and build output are never part of a build context (see .dockerignore).
COPY_IGNORE = shutil.ignore_patterns("node_modules", ".next", ".venv", "__pycache__", "build", "*.tsbuildinfo")


def timed_build(context: Path, tag: str, base: str, no_cache: bool = False) -> float:
    args = {"BASE_IMAGE": base, "APP_VERSION": "0.0.0-bench", "BUILDKIT_INLINE_CACHE": "1"}
    extra = ["--no-cache"] if no_cache else []
    start = time.monotonic()
    cmd = ["build", "--progress=plain", "--target", "runtime", "-t", tag, *extra]
    for k, v in args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    if dl.CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=ca_bundle,src={dl.CA_BUNDLE}"]
    dl.docker(*cmd, str(context), timeout=1800)
    return time.monotonic() - start


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


def seconds_to_healthy(app: str, tag: str, network: str) -> float | None:
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
    status = dl.wait_health(c, HEALTH_BOUND_S)
    took = time.monotonic() - start
    if status != "healthy":
        print(f"{app}: {status} after {took:.0f}s\n{dl.logs(c)}", file=sys.stderr)
        return None
    return took


def bench_app(app: str, network: str, workdir: Path) -> dict:
    context = workdir / app
    shutil.copytree(PROJECT_DIR / "apps" / app, context, ignore=COPY_IGNORE)
    tag = f"dockyard-bench/{app}:runtime"
    base = BASES[app]
    row: dict = {"app": app, "base": base}
    row["cold_build_s"] = timed_build(context, tag, base, no_cache=True)
    row["no_change_build_s"] = timed_build(context, tag, base)
    rel, comment = CHANGED_FILE[app]
    with (context / rel).open("a") as fh:
        fh.write(comment)
    row["one_file_changed_build_s"] = timed_build(context, tag, base)
    row["size_mb"] = dl.image_size(tag) / 1e6
    row["size_above_base_mb"] = (dl.image_size(tag) - dl.image_size(base)) / 1e6
    row["start_to_healthy_s"] = seconds_to_healthy(app, tag, network)
    return row


def base_images_warm_seconds() -> float:
    start = time.monotonic()
    subprocess.run(["bash", str(PROJECT_DIR / "engine" / "bases.sh")], check=True, capture_output=True)
    return time.monotonic() - start


def print_table(rows: list[dict]) -> None:
    cols = [("app", "app", "{}"), ("cold_build_s", "cold s", "{:.1f}"), ("no_change_build_s", "no-change s", "{:.1f}"),
            ("one_file_changed_build_s", "one-file s", "{:.1f}"), ("size_mb", "size MB", "{:.1f}"),
            ("size_above_base_mb", "+base MB", "{:.1f}"), ("start_to_healthy_s", "healthy s", "{:.1f}")]  # fmt: skip
    print(" | ".join(f"{title:>11}" for _, title, _ in cols))
    for row in rows:
        cells = [("-" if row[k] is None else fmt.format(row[k])) for k, _, fmt in cols]
        print(" | ".join(f"{c:>11}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", nargs="+", choices=sorted(BASES), default=sorted(BASES))
    ap.add_argument("--prune-cache-mounts", action="store_true",
                    help="also drop BuildKit cache mounts first (slows other builds on this engine)")  # fmt: skip
    args = ap.parse_args(argv)
    bases_warm = base_images_warm_seconds()  # also starts dockerd and builds missing bases
    if args.prune_cache_mounts:
        dl.docker("builder", "prune", "-f", "--filter", "type=exec.cachemount")
    network = dl.unique("bench-net")
    rows = []
    try:
        dl.docker("network", "create", *dl.label_args(), network)
        start_datastores(network)
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
            # The backend first (it stays up, as `backend` on the network, for the frontend).
            for app in sorted(args.app):
                rows.append(bench_app(app, network, Path(tmp)))
    finally:
        dl.cleanup_session()
    print_table(rows)
    print(f"base images, warm (no-op) run: {bases_warm:.1f}s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"base_images_warm_s": bases_warm, "apps": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return 0 if all(r["start_to_healthy_s"] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
