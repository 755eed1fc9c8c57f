#!/usr/bin/env python3
"""Image benchmark: build times, sizes, time-to-ready, idle memory and request latency of the apps'
runtime images on the air-gapped bases (machine/base_images/bases.sh), side by side with the figures before issue 14.

For each app, on a copy of its build context (tracked files are never modified):
  cold       `docker build --no-cache` (BuildKit cache mounts, e.g. the npm/uv caches and Next's
             build cache, are kept unless --prune-cache-mounts)
  no-change  the same build again
  one-file   the same build after appending a comment to one source file of the copy
then the image's size (uncompressed, as `docker image inspect` reports it), what a registry stores
(the compressed layers and config pushed to the loopback registry 127.0.0.1:5000), its size above
its runtime base; then the image run (bench/app_runs.py; hardened: read-only, caps dropped, UID
1000, 512 MiB; published on 127.0.0.1), each time from just before `docker run`:
  alone      --alone-runs times (default 3) on its own, no datastores, no env beyond the image's
             (issue 22: healthy within 2 s): seconds until it answers its liveness path, seconds
             until the engine reports it healthy (the image's own HEALTHCHECK, start interval
             0.25 s; exact, from the health log), idle RSS 10 s later; min and max over the runs
  with the datastores (the backend: a real postgres and redis from dockyard's images on a throwaway
             network, migrated; their idle memory is reported too): seconds until it answers its
             readiness path and until healthy, its idle memory 10 s later (`docker stats`: usage;
             `ps`: RSS, a health check running at that moment not counted; /proc: how much of the
             app's RSS is anonymous memory and how much file-backed pages of its binary and
             libraries), then the latency of one endpoint (backend GET /api/todos, cached in Redis
             after the first miss; frontend GET /): the first request since it started, then 1
             warm-up and 200 sequential requests (p50, p95), and the RSS after them.
The load average before and after is recorded: times taken on a busy machine are not comparable.

`--baseline REV` measures the apps as they were at git revision REV (their runtime stage on the
full bases, as then) and writes bench/baseline.json, which every later run prints beside its own
figures ("-" for what an older baseline did not measure). `--at REV` measures the apps as at REV
on today's runtime bases and writes bench/results/images-REV.json (an app measured by an earlier
`--at` of the same revision and not by this one keeps its row); `--before that.json` prints it
as the "before" column of a later run (issue 22's before/after). Prints a table and writes
bench/results/images.json.
Usage: python3 bench/images.py [--app backend|frontend ...] [--alone-runs N] [--prune-cache-mounts]
                               [--baseline REV | --at REV] [--before JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

# testing/'s standard-library modules only: this runs under python3 without the program's packages.
from bench import app_runs  # noqa: E402  (needs the project root on sys.path)
from testing import dockerlib as dl  # noqa: E402

RESULTS = PROJECT_DIR / "bench" / "results" / "images.json"
BASELINE = PROJECT_DIR / "bench" / "baseline.json"
REGISTRY = "127.0.0.1:5000"  # machine/provision/registry.sh: plain HTTP, loopback only
BASES = {"backend": "dockyard/base-python:3.11-bookworm", "frontend": "dockyard/base-node:22-bookworm"}
RUNTIME_BASES = {"backend": "dockyard/runtime-python:3.11-bookworm", "frontend": "dockyard/runtime-node:22-bookworm"}
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
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310 -- http:// URL of the loopback registry (REGISTRY)
            manifest = json.load(response)
    except (dl.DockerError, urllib.error.URLError, OSError) as e:
        print(f"registry size of {tag}: {e}", file=sys.stderr)
        return None
    finally:
        dl.docker("rmi", remote, check=False)
    return float(manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"]))


def bench_app(app: str, network: str, workdir: Path, apps_dir: Path, runtime_base: str, alone_runs: int,
              revision: str | None) -> dict[str, Any]:  # fmt: skip
    context = workdir / app
    shutil.copytree(apps_dir / app, context, ignore=COPY_IGNORE)
    # Per revision, so bench/latency_ab.py can run a revision's image beside the working tree's.
    tag = f"dockyard-bench/{app}:runtime" + (f"-{revision}" if revision else "")
    base = BASES[app]
    row: dict[str, Any] = {"app": app, "base": base, "runtime_base": runtime_base}
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
    row["alone"] = app_runs.alone_runs(app, tag, alone_runs)
    row.update(app_runs.run_app(app, tag, network))
    return row


def engine_description() -> str:
    version = dl.docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})").strip()
    return f"Docker {version}, {platform.machine()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores"  # nosec B603 B607 -- argv list, no shell; docker from PATH


def with_earlier_rows(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows`, plus the rows in `path` (an earlier run) of the apps `rows` does not have."""
    if not path.is_file():
        return rows
    measured = {row["app"] for row in rows}
    earlier = [row for row in json.loads(path.read_text()).get("apps", []) if row["app"] not in measured]
    return sorted(earlier + rows, key=lambda row: row["app"])


def short_revision(rev: str) -> str:
    """The abbreviated commit hash of REV (tags and results files are named by it)."""
    git = subprocess.run(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "--verify", f"{rev}^{{commit}}"],  # nosec B603 B607 -- argv list, no shell; git from PATH
                         capture_output=True, text=True)  # fmt: skip
    if git.returncode != 0:
        raise SystemExit(f"images.py: {rev!r} is not a commit of this repository: {git.stderr.strip()}")
    return git.stdout.strip()


def checkout(rev: str, dest: Path) -> Path:
    """apps/ as at git revision REV (for --baseline and --at)."""
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", rev, "apps"], capture_output=True, check=True)  # nosec B603 B607 -- argv list, no shell; git from PATH
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)  # nosec B603 B607 -- argv list, no shell; tar from PATH
    return dest / "apps"


def base_images_warm_seconds() -> float:
    start = time.monotonic()
    subprocess.run(["bash", str(PROJECT_DIR / "machine" / "base_images" / "bases.sh")], check=True, capture_output=True)  # nosec B603 B607 -- argv list, no shell; docker from PATH
    return time.monotonic() - start


# (key in an app's row, a dotted path; title; format: a {min, max} value is printed as a range)
COLUMNS = [("cold_build_s", "cold build s", "{:.1f}"), ("no_change_build_s", "no-change s", "{:.1f}"),
           ("one_file_changed_build_s", "one-file s", "{:.1f}"), ("size_mb", "size MB", "{:.1f}"),
           ("registry_mb", "registry MB", "{:.1f}"), ("size_above_base_mb", "+base MB", "{:.1f}"),
           ("alone.ready_s", "alone: ready s", "{min:.2f}-{max:.2f}"),
           ("alone.healthy_s", "alone: healthy s", "{min:.2f}-{max:.2f}"),
           ("alone.idle_rss_mib", "alone: idle RSS MiB", "{min:.1f}-{max:.1f}"),
           ("start_to_ready_s", "ready s", "{:.2f}"), ("start_to_healthy_s", "healthy s", "{:.2f}"),
           ("idle_memory.rss_mib", "idle RSS MiB", "{:.1f}"),
           ("idle_memory.main_rssanon_mib", "  of it: anon MiB", "{:.1f}"),
           ("idle_memory.main_rssfile_mib", "  of it: files MiB", "{:.1f}"),
           ("idle_memory.stats_mib", "stats MiB", "{:.1f}"), ("latency.first_ms", "first request ms", "{:.1f}"),
           ("latency.p50_ms", "p50 ms", "{:.1f}"), ("latency.p95_ms", "p95 ms", "{:.1f}"),
           ("latency.rss_after_mib", "RSS after requests MiB", "{:.1f}")]  # fmt: skip
BUSY_LOAD = 1.0  # 1-minute load average above which the machine is not idle


def _cell(row: dict[str, Any] | None, key: str, fmt: str) -> str:
    value = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "-"
    return fmt.format(**value) if isinstance(value, dict) else fmt.format(value)


def print_table(rows: list[dict[str, Any]], baseline: dict[str, Any] | None) -> None:
    before = {r["app"]: r for r in (baseline or {}).get("apps", [])}
    print(f"{'':<22}" + "".join(f"{row['app']:>24}" for row in rows))
    header = "".join(f"{'before':>12}{'after':>12}" for _ in rows)
    print(f"{'':<22}{header}")
    for key, title, fmt in COLUMNS:
        cells = "".join(f"{_cell(before.get(row['app']), key, fmt):>12}{_cell(row, key, fmt):>12}" for row in rows)
        print(f"{title:<22}{cells}")
    runs = {len((row.get("alone") or {}).get("runs", [])) for row in rows}
    print(f"alone: min-max over {'/'.join(map(str, sorted(runs)))} runs of the image on its own; "
          "the rest: with the datastores; requests: "
          + ", ".join(f"{row['app']} GET {app_runs.LATENCY_PATH[row['app']]}" for row in rows))  # fmt: skip
    if baseline:
        print(
            f"before: {baseline.get('revision', '?')} on {baseline.get('engine', '?')}, bases {baseline.get('bases')}"
            + (f", {describe_load(baseline['load_average'])}" if "load_average" in baseline else "")
        )


def load_average() -> list[float]:
    return [round(load, 2) for load in os.getloadavg()]


def describe_load(load: dict[str, Any]) -> str:
    """`load` as recorded: {"start": [1, 5, 15 min], "end": [...]}."""
    start, end = (" ".join(f"{x:.2f}" for x in load[when]) for when in ("start", "end"))
    return f"load average (1, 5, 15 min) {start} at start, {end} at end"


def load_warning(load: list[float]) -> str | None:
    if load[0] <= BUSY_LOAD:
        return None
    return f"warning: 1-minute load average {load[0]:.2f} at start: the machine is not idle: times are not comparable"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", nargs="+", choices=sorted(BASES), default=sorted(BASES))
    ap.add_argument("--alone-runs", metavar="N", type=int, default=3,
                    help="runs of each image on its own (default 3)")  # fmt: skip
    ap.add_argument("--prune-cache-mounts", action="store_true",
                    help="also drop BuildKit cache mounts first (slows other builds on this engine)")  # fmt: skip
    ap.add_argument(
        "--baseline", metavar="REV", help="measure apps/ as at git revision REV and write bench/baseline.json"
    )
    ap.add_argument("--at", metavar="REV",
                    help="measure apps/ as at git revision REV on today's runtime bases; "
                         "writes bench/results/images-REV.json (for --before)")  # fmt: skip
    ap.add_argument("--before", metavar="JSON", type=Path, default=BASELINE,
                    help="results to print as the 'before' column (default bench/baseline.json)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.baseline and args.at:
        ap.error("--baseline and --at both name the revision to measure: give one")
    if not args.baseline and args.before != BASELINE and not args.before.is_file():
        ap.error(f"--before {args.before}: no such file (write one with --at REV)")
    if args.alone_runs < 0:
        ap.error("--alone-runs must be 0 or more")
    revision = short_revision(args.baseline or args.at) if args.baseline or args.at else None
    load = {"start": load_average()}
    if warning := load_warning(load["start"]):
        print(warning, file=sys.stderr)
    bases_warm = base_images_warm_seconds()  # also starts dockerd and builds missing bases
    if args.prune_cache_mounts:
        dl.docker("builder", "prune", "-f", "--filter", "type=exec.cachemount")
    network = dl.unique("bench-net")
    rows = []
    try:
        dl.docker("network", "create", *dl.label_args(), network)
        datastores = app_runs.start_datastores(network)
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
            apps_dir = checkout(revision, Path(tmp)) if revision else PROJECT_DIR / "apps"
            # The backend first (it stays up, as `backend` on the network, for the frontend).
            for app in sorted(args.app):
                runtime_base = BASES[app] if args.baseline else RUNTIME_BASES[app]
                rows.append(bench_app(app, network, Path(tmp), apps_dir, runtime_base, args.alone_runs, revision))
        datastore_memory = dict(zip(("postgres", "redis"), map(app_runs.idle_memory, datastores), strict=True))
    finally:
        dl.cleanup_session()
    load["end"] = load_average()
    result = {"engine": engine_description(), "base_images_warm_s": bases_warm, "load_average": load, "apps": rows,
              "datastores_idle_memory": datastore_memory}  # fmt: skip
    results_path = RESULTS
    if revision:
        result.update(revision=revision, bases=BASES if args.baseline else RUNTIME_BASES)
        results_path = BASELINE if args.baseline else RESULTS.with_name(f"images-{revision}.json")
    if args.at:  # the same code as an earlier run of this revision: keep the apps it measured and this one did not
        result["apps"] = with_earlier_rows(results_path, rows)
    baseline = None if args.baseline or not args.before.is_file() else json.loads(args.before.read_text())
    print_table(rows, baseline)
    print(f"after: {result.get('revision', 'the working tree')} on {result['engine']}, "
          f"runtime bases {BASES if args.baseline else RUNTIME_BASES}")  # fmt: skip
    print(f"idle memory of the datastores: {datastore_memory}")
    print(f"base images, warm (no-op) run: {bases_warm:.1f}s")
    print(describe_load(load))
    if warning:
        print(warning)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {results_path.relative_to(PROJECT_DIR)}")
    failed = [f"{row['app']}: {failure}" for row in rows for failure in app_runs.failures(row)]
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
