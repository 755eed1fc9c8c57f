#!/usr/bin/env python3
"""Two images of one app, measured in alternation: does a memory cut cost latency?

Issue 22 asks for idle memory cuts "where that costs nothing in latency". One benchmark run after
another on a shared machine is not a comparison (the same frontend image measured 2.9 and 3.9 ms
p50 in two consecutive runs), so this runs image A and image B in turn, ROUNDS times each (A, B,
B, A, A, B, ...: neither always goes first), each time as bench/images.py runs an app with the
datastores (bench/app_runs.run_app: ready, healthy, idle memory 10 s later, the first request,
then 1 warm-up and 200 sequential requests), and prints per image the median over the rounds
with the range. Prints a table and writes bench/results/latency-ab.json.

The images are tags, e.g. those `bench/images.py --at REV` and `bench/images.py` leave behind:
  python3 bench/latency_ab.py --app backend dockyard-bench/backend:runtime-51ad2b0 dockyard-bench/backend:runtime
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

# Standard library and testing/ only, like bench/images.py.
from bench import app_runs  # noqa: E402  (needs the project root on sys.path)
from bench.images import load_average, load_warning  # noqa: E402
from bench.record import write_results  # noqa: E402
from testing import dockerlib as dl  # noqa: E402

RESULTS = PROJECT_DIR / "bench" / "results" / "latency-ab.json"
# What each round reports, by its path in app_runs.run_app's row.
FIGURES = {
    "ready s": ("start_to_ready_s",),
    "idle RSS MiB": ("idle_memory", "rss_mib"),
    "first request ms": ("latency", "first_ms"),
    "p50 ms": ("latency", "p50_ms"),
    "p95 ms": ("latency", "p95_ms"),
    "RSS after requests MiB": ("latency", "rss_after_mib"),
}


def order(rounds: int) -> list[int]:
    """0 (A) and 1 (B) in an ABBA sequence: each goes first and last equally often."""
    return [i if r % 2 == 0 else 1 - i for r in range(rounds) for i in (0, 1)]


def figure(row: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: object = row
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) else None


def one_round(app: str, image: str, network: str) -> dict[str, Any]:
    """One run of `image` with the datastores, removed afterwards (the next one takes its alias)."""
    before = set(dl.docker("ps", "-aq", "--filter", f"label={dl.TEST_LABEL}={dl.SESSION}").split())
    try:
        return app_runs.run_app(app, image, network)
    finally:
        after = set(dl.docker("ps", "-aq", "--filter", f"label={dl.TEST_LABEL}={dl.SESSION}").split())
        if after - before:
            dl.docker("rm", "-f", "-v", *sorted(after - before), check=False)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure: the median over the rounds and its range; None where no round measured it."""
    out = {}
    for title, path in FIGURES.items():
        values = [v for v in (figure(row, path) for row in rows) if v is not None]
        out[title] = {"median": statistics.median(values), "min": min(values), "max": max(values)} if values else None
    return out


def print_table(images: list[str], summaries: list[dict[str, Any]], rounds: int) -> None:
    print(f"{'':<24}" + "".join(f"{name:>34}" for name in images))
    for title in FIGURES:
        cells = []
        for s in summaries:
            cell = s[title]
            cells.append("-" if cell is None else f"{cell['median']:.1f} ({cell['min']:.1f}-{cell['max']:.1f})")
        print(f"{title:<24}" + "".join(f"{c:>34}" for c in cells))
    print(f"median (min-max) over {rounds} rounds per image, run in ABBA order")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", choices=sorted(app_runs.PORTS), required=True)
    ap.add_argument("--rounds", type=int, default=6, help="runs of each image (default 6)")
    ap.add_argument("images", nargs=2, metavar="IMAGE", help="the two image tags, A then B")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be 1 or more")
    for image in args.images:
        if dl.docker_proc("image", "inspect", image).returncode != 0:
            ap.error(f"no image {image!r} on this engine (bench/images.py [--at REV] builds them)")
    load = {"start": load_average()}
    if warning := load_warning(load["start"]):
        print(warning, file=sys.stderr)
    network = dl.unique("bench-ab-net")
    rows: list[list[dict[str, Any]]] = [[], []]
    try:
        dl.docker("network", "create", *dl.label_args(), network)
        if args.app == "backend":
            app_runs.start_datastores(network)
        for index in order(args.rounds):
            rows[index].append(one_round(args.app, args.images[index], network))
    finally:
        dl.cleanup_session()
    load["end"] = load_average()
    summaries = [summary(r) for r in rows]
    print_table(args.images, summaries, args.rounds)
    failed = [f"{image}: {f}" for image, image_rows in zip(args.images, rows, strict=True)
              for row in image_rows for f in app_runs.failures(row)]  # fmt: skip
    write_results(RESULTS, "images", [{"image": image, "rounds": r, "summary": s}
                                      for image, r, s in zip(args.images, rows, summaries, strict=True)],
                  app=args.app, load_average=load)  # fmt: skip
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
