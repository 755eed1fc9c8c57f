"""What the catalog's dev-loop fields may not say (debug, metrics, monitoring) even when each is
well formed: a debugger runs a built service's dev stage on a port of its own, metrics need a
port to be scraped on, and one service at most scrapes the others."""

from __future__ import annotations

import posixpath

from components.config.catalog import Catalog, built_service_names
from components.core.durations import duration_nanos
from components.core.problems import OMITTED, Problem


def _debug_problems(catalog: Catalog) -> list[Problem]:
    problems = []
    built = None
    for spec in catalog.services:
        if spec.debug is None:
            continue
        key = f"services.{spec.name}.debug"
        if spec.build is None:
            built = built if built is not None else ", ".join(sorted(built_service_names(catalog.services))) or "none"
            problems.append(
                Problem(
                    key,
                    OMITTED,
                    f"the debugger runs in the service's dev stage (build.devTarget): only built services have one: {built}",
                )
            )
        elif spec.one_shot:
            problems.append(Problem(key, OMITTED, "a one-shot service exits before a debugger could attach: remove it"))
        if spec.debug.port in (spec.port, spec.metrics_port):
            problems.append(
                Problem(f"{key}.port", spec.debug.port, "is a port the service serves on: the debugger needs its own")
            )
    return problems


def _metrics_problems(catalog: Catalog) -> list[Problem]:
    problems = []
    for spec in catalog.services:
        if spec.metrics is None:
            continue
        key = f"services.{spec.name}.metrics"
        if spec.one_shot:
            problems.append(Problem(key, OMITTED, "a one-shot service exits between scrapes: remove it"))
        elif spec.metrics_port is None:
            problems.append(
                Problem(key, OMITTED, "needs a port to be scraped on: set metrics.port or the service's port")
            )
    return problems


def _monitoring_problems(catalog: Catalog) -> list[Problem]:
    problems = []
    first = None
    for spec in catalog.services:
        if spec.monitoring is None:
            continue
        key = f"services.{spec.name}.monitoring"
        if first is not None:
            problems.append(
                Problem(key, OMITTED, f"{first} scrapes the services already: one monitoring service at most")
            )
        first = first or spec.name
        if spec.one_shot or spec.port is None:
            problems.append(Problem(key, OMITTED, "the monitoring service runs on, with a port (its API and UI)"))
        interval = duration_nanos(spec.monitoring.scrape_interval)
        if interval < 10**9:
            problems.append(
                Problem(f"{key}.scrapeInterval", spec.monitoring.scrape_interval, "must be at least 1s, e.g. 15s")
            )
        elif interval % 10**6:  # Prometheus takes whole milliseconds: the config would cut the rest
            problems.append(
                Problem(
                    f"{key}.scrapeInterval",
                    spec.monitoring.scrape_interval,
                    f"must be whole milliseconds (Prometheus would run {interval // 10**6}ms), e.g. 15s or 1500ms",
                )
            )
        if posixpath.dirname(spec.monitoring.config_file) == "/":
            problems.append(
                Problem(
                    f"{key}.configFile",
                    spec.monitoring.config_file,
                    "must be in a directory of its own, e.g. /etc/prometheus/prometheus.yml (the program mounts that directory)",
                )
            )
    return problems


def dev_loop_problems(catalog: Catalog) -> list[Problem]:
    return _debug_problems(catalog) + _metrics_problems(catalog) + _monitoring_problems(catalog)
