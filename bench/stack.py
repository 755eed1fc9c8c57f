"""Benchmark: full dev stack up on the local Docker engine, as `pulumi up -s dev` would bring it.

The program runs under mocks with tests/engine/real_docker.RealDocker standing in for the
providers (images built with BuildKit, containers created health-gated with the program's exact
inputs), on the air-gapped bases from engine/bases.sh (the apps' runtime stage on the distroless
runtime bases). Images are warm. The figure that matters is "containers up": from the first
container create to the last container healthy (what `pulumi up` spends once images are built).

Each container's health check uses its catalog service's timing (start interval, interval,
retries): the run shows what that gives beside the figures before (bench/baseline.json).
Prints a table and writes bench/results/stack.json.
Needs a running engine (engine/dockerd.sh) and the bases (engine/bases.sh).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from components.preflight import DockerEngine, docker_host
from tests.engine.conftest import AIR_GAPPED_BASES, APP_VERSION, RUNTIME_BASES
from tests.engine.real_docker import RealDocker, air_gapped_dev_config, destroy
from tests.harness import PROJECT_DIR, run_program

RESULTS = Path(__file__).resolve().parent / "results" / "stack.json"
BASELINE = Path(__file__).resolve().parent / "baseline.json"
STACK = "benchstack"


def bring_up() -> dict:
    docker = RealDocker()
    config = air_gapped_dev_config(tag=APP_VERSION, bases=AIR_GAPPED_BASES, runtime_bases=RUNTIME_BASES)
    start = time.monotonic()
    try:
        run_program(STACK, config, config_stack="dev", new_resource_hook=docker, engine=DockerEngine(docker_host(None)))
        total = time.monotonic() - start
    finally:
        destroy(docker, STACK)
    return {
        "containers_up_seconds": round(docker.containers_up_seconds, 1),
        "up_seconds": round(total, 1),
        "steps": {k: round(v, 1) for k, v in docker.timings.items()},
    }


def main() -> dict:
    runs = {"now": bring_up()}
    before = json.loads(BASELINE.read_text()).get("stack") if BASELINE.is_file() else None
    columns = ({"before": before} if before else {}) | runs
    print(f"{'step (seconds)':<40}" + "".join(f"{name:>24}" for name in columns))
    steps = list(dict.fromkeys(k for run in columns.values() for k in run["steps"]))
    for step in steps:
        print(f"{step:<40}" + "".join(f"{run['steps'].get(step, '-'):>24}" for run in columns.values()))
    for key, title in (("containers_up_seconds", "containers up (first create -> healthy)"),
                       ("up_seconds", "program start -> healthy")):  # fmt: skip
        print(f"{title:<40}" + "".join(f"{run.get(key, '-'):>24}" for run in columns.values()))
    if before:
        print(f"before: {before['note']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2))
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return runs


if __name__ == "__main__":
    main()
