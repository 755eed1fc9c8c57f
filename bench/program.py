"""Benchmark: time to evaluate each stack's program under Pulumi's mocks, and its resource count.

Prints a table and writes bench/results/program.json. Not a test: numbers, no thresholds.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.record import write_results
from testing.harness import PROJECT_DIR, outside_inputs, run_program

RESULTS = Path(__file__).resolve().parent / "results" / "program.json"
RUNS = 5


def measure(stack: str) -> dict[str, Any]:
    seconds = []
    resources = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        run = run_program(stack, **outside_inputs(stack))
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


def main() -> list[dict[str, Any]]:
    rows = [measure(stack) for stack in stacks()]
    print(f"{'stack':<10}{'resources':>10}{'median s':>10}{'max s':>10}")
    for row in rows:
        print(f"{row['stack']:<10}{row['resources']:>10}{row['median_seconds']:>10.3f}{row['max_seconds']:>10.3f}")
    write_results(RESULTS, "program", rows)
    return rows


if __name__ == "__main__":
    main()
