"""A catalog ten times larger takes about ten times as long to load, validate and resolve:
linear, not quadratic (a service lookup rebuilt per env value made 10,000 services take
minutes). bench/catalog.py measures the sizes themselves; this only guards the shape.

CPU time of this process, not wall time: the machine may be busy with other work."""

from __future__ import annotations

import resource
from pathlib import Path

import yaml

from bench.catalog import catalog_of
from components.config.catalog import monitoring_service_names
from components.config.catalog_file import load_catalog
from components.plan.resolve import resolve
from components.plan.validate import validate
from testing.harness import PROJECT_DIR, stack_config

SMALL, LARGE = 200, 2_000
# Linear is about 10 (LARGE / SMALL); quadratic would be about 100.
MAX_RATIO = 30


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cost(size: int, directory: Path) -> float:
    path = directory / f"catalog-{size}.yaml"
    path.write_text(yaml.safe_dump(catalog_of(size), sort_keys=False), encoding="utf-8")
    start = cpu_seconds()
    catalog = load_catalog(path)
    stack = resolve(catalog, validate("dev", stack_config("dev"), set(), PROJECT_DIR, catalog))
    spent = cpu_seconds() - start
    # Every service runs on dev but the monitoring one, which waits for dev.monitoring.
    assert len(stack.services) == size - len(monitoring_service_names(catalog.services))
    return spent


def test_load_validate_and_resolve_grow_linearly(tmp_path):
    cost(SMALL, tmp_path)  # warm: imports, regexp and validator compilation
    small = min(cost(SMALL, tmp_path) for _ in range(3))
    large = cost(LARGE, tmp_path)
    assert large / small < MAX_RATIO, f"{SMALL} services: {small:.3f} s, {LARGE}: {large:.3f} s"
