"""Benchmark: full dev stack up on the local Docker engine, as `pulumi up -s dev` would bring it.

The program runs under mocks with tests/engine/real_docker.RealDocker standing in for the
providers (images built with BuildKit, containers created health-gated), on the air-gapped
bases from engine/bases.sh. Measures a warm up (images cached), the time each step took,
then removes everything. Prints a table and writes bench/results/stack.json.
Needs a running engine (engine/dockerd.sh) and the bases (engine/bases.sh).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from components.preflight import DockerEngine, docker_host
from tests.engine.conftest import APP_VERSION, BASE_NODE, BASE_PYTHON, POSTGRES, REDIS
from tests.engine.real_docker import RealDocker, air_gapped_dev_config, destroy, free_port
from tests.harness import PROJECT_DIR, run_program

RESULTS = Path(__file__).resolve().parent / "results" / "stack.json"
STACK = "benchstack"
BASES = {"backend": BASE_PYTHON, "frontend": BASE_NODE, "postgres": POSTGRES, "redis": REDIS}


def bring_up() -> dict:
    docker = RealDocker()
    config = air_gapped_dev_config(free_port(), free_port(), tag=APP_VERSION, bases=BASES)
    start = time.monotonic()
    try:
        run_program(STACK, config, config_stack="dev", new_resource_hook=docker, engine=DockerEngine(docker_host(None)))
        total = time.monotonic() - start
    finally:
        destroy(docker, STACK)
    return {"up_seconds": round(total, 1), "steps": {k: round(v, 1) for k, v in docker.timings.items()}}


def main() -> dict:
    result = bring_up()
    print(f"{'step':<40}{'seconds':>10}")
    for step, seconds in result["steps"].items():
        print(f"{step:<40}{seconds:>10.1f}")
    print(f"{'full stack up (healthy)':<40}{result['up_seconds']:>10.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return result


if __name__ == "__main__":
    main()
