"""`make bench-check`: the benchmarks' latest JSON (bench/results/) against the last recorded results
(bench/baseline/, checked in), with stated tolerances; a regression beyond its tolerance fails.

Compared (a metric regresses when it grows past baseline * (1 + relative) + absolute):

| metric | from | relative | absolute | why that wide |
| --- | --- | --- | --- | --- |
| image size, registry size (MB) | images.json, per app | 5 % | 2 MB | deterministic up to base-image updates |
| cold / no-change / one-file build (s) | images.json, per app | 50 % | 5 s | one run on 2 shared cores |
| `up` (and `down`) ratio pulumi / compose | stack.json, per operation | 25 % | 0.15 | both sides share the same noise |

A results file that is missing (that benchmark did not run) is reported and skipped; a baseline
that is missing for a results file present is an error (record one: `make bench-record`).
`make bench-record` copies bench/results/{images,stack}.json to bench/baseline/ once a run is accepted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
BASELINE_DIR = PROJECT_DIR / "bench" / "baseline"


@dataclass(frozen=True)
class Tolerance:
    relative: float
    absolute: float

    def limit(self, baseline: float) -> float:
        return baseline * (1 + self.relative) + self.absolute

    def __str__(self) -> str:
        return f"+{self.relative:.0%} +{self.absolute:g}"


SIZE = Tolerance(relative=0.05, absolute=2.0)
BUILD_TIME = Tolerance(relative=0.50, absolute=5.0)
UP_RATIO = Tolerance(relative=0.25, absolute=0.15)

IMAGE_METRICS = {
    "size_mb": SIZE,
    "registry_mb": SIZE,
    "cold_build_s": BUILD_TIME,
    "no_change_build_s": BUILD_TIME,
    "one_file_changed_build_s": BUILD_TIME,
}
FILES = ("images.json", "stack.json")


@dataclass(frozen=True)
class Comparison:
    file: str
    metric: str
    baseline: float
    current: float
    tolerance: Tolerance

    @property
    def regressed(self) -> bool:
        return self.current > self.tolerance.limit(self.baseline)

    def line(self) -> str:
        verdict = "REGRESSED" if self.regressed else "ok"
        return (
            f"{verdict:<10}{self.file}: {self.metric}: {self.current:g} vs {self.baseline:g} recorded "
            f"(tolerance {self.tolerance}, limit {self.tolerance.limit(self.baseline):.2f})"
        )


class BadResults(ValueError):
    """A results or baseline file that is not the shape its benchmark writes."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _image_metrics(document: Mapping[str, Any]) -> Iterator[tuple[str, float, Tolerance]]:
    apps = document.get("apps")
    if not isinstance(apps, list):
        raise BadResults("has no `apps` list (bench/images.py writes one row per app)")
    for row in apps:
        for metric, tolerance in IMAGE_METRICS.items():
            value = _number(row.get(metric))
            if value is not None:
                yield f"{row['app']} {metric}", value, tolerance


def _stack_metrics(document: Mapping[str, Any]) -> Iterator[tuple[str, float, Tolerance]]:
    rows = document.get("rows")
    if not isinstance(rows, list):
        raise BadResults("has no `rows` list (bench/stack.py writes one row per operation)")
    for row in rows:
        ratio = _number(row.get("ratio"))
        if ratio is not None:
            yield f"{row['operation']} ratio pulumi/compose", ratio, UP_RATIO


EXTRACTORS = {"images.json": _image_metrics, "stack.json": _stack_metrics}


def _load(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BadResults(f"{path}: cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadResults(f"{path}: a JSON object was expected")
    return document


def compare(name: str, baseline: Mapping[str, Any], current: Mapping[str, Any]) -> list[Comparison]:
    """Every metric both documents have; one only in the baseline (or only now) is not compared."""
    extract = EXTRACTORS[name]
    recorded = {metric: (value, tolerance) for metric, value, tolerance in extract(baseline)}
    return [
        Comparison(name, metric, recorded[metric][0], value, tolerance)
        for metric, value, tolerance in extract(current)
        if metric in recorded
    ]


def check(results_dir: Path, baseline_dir: Path, out: TextIO | None = None) -> int:
    """0 when nothing regressed (or nothing ran); 1 on a regression or a results file with no baseline."""
    out = out or sys.stdout
    failed, compared = False, 0
    for name in FILES:
        current_path, baseline_path = results_dir / name, baseline_dir / name
        if not current_path.is_file():
            print(f"skipped   {name}: no {current_path} (that benchmark did not run: make bench)", file=out)
            continue
        if not baseline_path.is_file():
            print(f"FAILED    {name}: no recorded results in {baseline_path}: make bench-record", file=out)
            failed = True
            continue
        try:
            comparisons = compare(name, _load(baseline_path), _load(current_path))
        except BadResults as exc:
            print(f"FAILED    {name}: {exc}", file=out)
            failed = True
            continue
        for comparison in comparisons:
            print(comparison.line(), file=out)
            failed |= comparison.regressed
        compared += len(comparisons)
    print(f"bench-check: {compared} metrics compared, {'a regression' if failed else 'no regression'}", file=out)
    return 1 if failed else 0


def record(results_dir: Path, baseline_dir: Path) -> int:
    """Accept the latest results as the new baseline (the files present)."""
    baseline_dir.mkdir(parents=True, exist_ok=True)
    copied = [name for name in FILES if (results_dir / name).is_file()]
    for name in copied:
        shutil.copyfile(results_dir / name, baseline_dir / name)
        print(f"recorded bench/baseline/{name}")
    if not copied:
        print(f"bench-record: nothing in {results_dir} to record (make bench first)", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--baseline", type=Path, default=BASELINE_DIR)
    parser.add_argument("--record", action="store_true", help="copy the results into the baseline instead")
    args = parser.parse_args(argv)
    if args.record:
        return record(args.results, args.baseline)
    return check(args.results, args.baseline)


if __name__ == "__main__":
    sys.exit(main())
