"""Running the apps' runtime images for bench/images.py, and what is measured while they run.

Every container is hardened as the program runs it (read-only, caps dropped, UID 1000, 512 MiB,
the catalog's writable paths as tmpfs) and published on 127.0.0.1 only. Times run from just
before `docker run`: "ready" until the app answers a path (polled every 0.05 s), "healthy" until
the image's own HEALTHCHECK first succeeded, read exactly from the container's health log (the
`End` of its first successful check), not from polling the status.

  run_alone  the image on its own (default bridge, no datastores, no env beyond the image's):
             ready on its liveness path, healthy, idle memory; N times, min and max reported
  run_app    the image with the datastores (the backend: a real postgres and redis, migrated;
             the frontend: BACKEND_URL to `backend` on the same network): ready on its readiness
             path, healthy, idle memory, then request latency: the first request to one endpoint,
             1 warm-up, REQUESTS sequential requests (p50, p95), and the RSS after them
Standard library only (runs under plain python3).
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from testing import dockerlib as dl
from testing import reference_app

HEALTH_BOUND_S = 180
ALONE_BOUND_S = 60  # an app that takes this long alone has failed issue 22's 2 s by far
IDLE_SETTLE_S = 10
REQUESTS = 200
REQUEST_TIMEOUT_S = 10
# The reference app's built services as the catalog runs them (testing/reference_app.py).
READY_PATH = reference_app.READINESS_PATHS  # with the datastores
ALONE_PATH = reference_app.LIVENESS_PATHS  # alone: the backend's /readyz fails without a database
PORTS = {name: reference_app.PORTS[name] for name in reference_app.BUILT}
TMPFS = reference_app.WRITABLE_PATHS
# One representative endpoint per app. The backend's list is cached in Redis after the first
# miss; the frontend's / is its page (a static shell: the list is fetched by the browser).
LATENCY_PATH = {"backend": "/api/todos", "frontend": "/"}
UID = "1000:1000"


@dataclass(frozen=True)
class Started:
    """A container, and both clocks as read just before its `docker run`."""

    container: str
    wall_ns: int  # time.time_ns(): compared with the engine's health log timestamps
    monotonic: float


def start(tag: str, name: str, run_args: list[str]) -> Started:
    wall_ns, monotonic = time.time_ns(), time.monotonic()
    return Started(dl.run_container(tag, name=name, run_args=run_args), wall_ns, monotonic)


def seconds_to_answer(started: Started, port: int, path: str, bound: float) -> float | None:
    """Seconds from `docker run` until http://127.0.0.1:<published port><path> answers 200."""
    host_port = None
    while time.monotonic() - started.monotonic < bound:
        try:
            host_port = host_port or dl.host_port(started.container, port)
            with urllib.request.urlopen(f"http://127.0.0.1:{host_port}{path}", timeout=2) as r:  # nosec B310 -- http:// URL to a loopback port this benchmark published
                if r.status == 200:
                    return time.monotonic() - started.monotonic
        except (dl.DockerError, urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    return None


def seconds_to_healthy(started: Started, bound: float) -> tuple[float | None, str]:
    """Seconds from `docker run` until the engine's first successful health check ended (from
    the health log: polling only says when to read it), and the last health status."""
    status = dl.wait_health(started.container, bound)
    if status != "healthy":
        return None, status
    # Read at most a second after the first success: the log (the last 5 checks) still holds it.
    log = (dl.inspect(started.container)["State"].get("Health") or {}).get("Log") or []
    ends = [epoch_ns(entry["End"]) for entry in log if entry.get("ExitCode") == 0]
    return (min(ends) - started.wall_ns) / 1e9 if ends else None, status


RFC3339 = re.compile(r"(?P<seconds>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$")


def epoch_ns(stamp: str) -> int:
    """An RFC 3339 timestamp with up to nanoseconds (Go's RFC3339Nano) as nanoseconds since the epoch."""
    m = RFC3339.match(stamp)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {stamp!r}")
    zone = "+00:00" if m["zone"] == "Z" else m["zone"]
    seconds = int(datetime.fromisoformat(m["seconds"] + zone).timestamp())
    return seconds * 10**9 + int((m["fraction"] or "0")[:9].ljust(9, "0"))


def idle_memory(container: str) -> dict[str, Any]:
    """`docker stats` usage (cgroup, page cache excluded), the RSS of the container's processes
    (not counting a health check that happens to run at that moment), and what the main process's
    RSS is made of: anonymous memory (heaps) and file-backed pages (binary, shared libraries)."""
    usage = dl.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0].strip()
    info = dl.inspect(container)
    row = {"stats_usage": usage, "stats_mib": _mib(usage), "rss_mib": rss_mib(container, info)}
    return row | rss_composition(info["State"]["Pid"])


def rss_mib(container: str, info: dict[str, Any] | None = None) -> float:
    """The RSS of the container's processes but a health check running at that moment."""
    info = info or dl.inspect(container)
    probe = " ".join((info["Config"].get("Healthcheck") or {}).get("Test", [])[1:])
    top = [line.split(None, 2) for line in dl.docker("top", container, "-o", "pid,rss,args").splitlines()[1:]]
    return round(sum(int(rss) for _pid, rss, args in top if not (probe and args.strip() == probe)) / 1024, 1)


def rss_composition(pid: int) -> dict[str, Any]:
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


def request_ms(url: str) -> float:
    """Milliseconds for one GET (a new connection) and its whole body; raises unless 2xx."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_S) as response:  # nosec B310 -- http:// URL to a loopback port this benchmark published
        response.read()
    return (time.perf_counter() - start) * 1000


def request_latency(container: str, port: int, path: str) -> dict[str, Any]:
    """The first request to `path` since the app started, 1 warm-up, then REQUESTS in a row."""
    url = f"http://127.0.0.1:{dl.host_port(container, port)}{path}"
    first = request_ms(url)
    request_ms(url)
    times = [request_ms(url) for _ in range(REQUESTS)]
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {"path": path, "requests": REQUESTS, "first_ms": first, "p50_ms": cuts[49], "p95_ms": cuts[94]}


def report(what: str, path: str, ready: float | None, status: str, container: str) -> None:
    """A container that did not get ready or healthy: how far it got, and its logs."""
    answered = "never answered" if ready is None else f"answered in {ready:.2f} s"
    print(f"{what}: {path} {answered}, health {status}; its logs:\n{dl.logs(container)}", file=sys.stderr)


def _stop(container: str) -> None:
    dl.docker("rm", "-f", "-v", container, check=False)


def run_alone(app: str, tag: str) -> dict[str, Any]:
    """One `docker run` of the image on its own; the container is removed after."""
    started = start(tag, dl.unique(f"bench-{app}-alone"),
                    [*dl.hardened_args(UID, tmpfs=TMPFS[app]), "-p", f"127.0.0.1::{PORTS[app]}"])  # fmt: skip
    try:
        row: dict[str, Any] = {"ready_s": seconds_to_answer(started, PORTS[app], ALONE_PATH[app], ALONE_BOUND_S)}
        row["healthy_s"], status = seconds_to_healthy(started, ALONE_BOUND_S)
        if row["ready_s"] is None or row["healthy_s"] is None:
            report(f"{app} alone", ALONE_PATH[app], row["ready_s"], status, started.container)
            return row
        time.sleep(IDLE_SETTLE_S)
        row["idle_memory"] = idle_memory(started.container)
        return row
    finally:
        _stop(started.container)


def alone_runs(app: str, tag: str, runs: int) -> dict[str, Any]:
    """`runs` alone runs, with the min and max of ready, healthy and idle RSS over them."""
    rows = [run_alone(app, tag) for _ in range(runs)]
    rss = [(row.get("idle_memory") or {}).get("rss_mib") for row in rows]
    return {"runs": rows, "ready_s": spread([row["ready_s"] for row in rows]),
            "healthy_s": spread([row["healthy_s"] for row in rows]), "idle_rss_mib": spread(rss)}  # fmt: skip


def spread(values: list[float | None]) -> dict[str, Any] | None:
    known = [v for v in values if v is not None]
    return {"min": min(known), "max": max(known)} if known else None


def start_datastores(network: str) -> list[str]:
    pg = dl.run_container(
        "dockyard/postgres:17-trixie",
        name=dl.unique("bench-postgres"),
        run_args=[*dl.hardened_args("999:999", tmpfs=("/tmp", "/var/run/postgresql")),  # nosec B108 -- /tmp inside the container, a tmpfs of its own (hardened_args)
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


def app_env(app: str, tag: str, network: str) -> list[str]:
    """The env the app gets beside the datastores; the backend's database is migrated first."""
    if app != "backend":
        return ["-e", "BACKEND_URL=http://backend:8000"]
    env = ["-e", "DATABASE_URL=postgresql+psycopg://todo:bench@postgres:5432/todo",
           "-e", "REDIS_URL=redis://redis:6379/0"]  # fmt: skip
    migrate = dl.run_container(
        tag, "python", "-m", "todo_api.migrate", name=dl.unique("bench-migrate"),
        run_args=[*dl.hardened_args(UID), "--network", network, *env],
    )  # fmt: skip
    if dl.wait_exit(migrate, 120) != 0:
        raise dl.DockerError(f"migrations failed:\n{dl.logs(migrate)}")
    return env


def run_app(app: str, tag: str, network: str) -> dict[str, Any]:
    """The app with the datastores; it stays up (the backend, as `backend`, for the frontend)."""
    env = app_env(app, tag, network)
    started = start(tag, dl.unique(f"bench-{app}"),
                    [*dl.hardened_args(UID, tmpfs=TMPFS[app]), "--network", network,
                     "--network-alias", app, "-p", f"127.0.0.1::{PORTS[app]}", *env])  # fmt: skip
    c = started.container
    row: dict[str, Any] = {"start_to_ready_s": seconds_to_answer(started, PORTS[app], READY_PATH[app], HEALTH_BOUND_S)}
    row["start_to_healthy_s"], status = seconds_to_healthy(started, HEALTH_BOUND_S)
    if row["start_to_ready_s"] is None or row["start_to_healthy_s"] is None:
        report(app, READY_PATH[app], row["start_to_ready_s"], status, c)
        return row
    time.sleep(IDLE_SETTLE_S)
    row["idle_memory"] = idle_memory(c)  # before any request: what lazy loading saves shows here
    try:
        row["latency"] = request_latency(c, PORTS[app], LATENCY_PATH[app])
    except (urllib.error.URLError, OSError) as e:
        print(f"{app}: GET {LATENCY_PATH[app]}: {e}\n{dl.logs(c)}", file=sys.stderr)
        return row | {"latency": {"path": LATENCY_PATH[app], "error": str(e)}}
    row["latency"]["rss_after_mib"] = rss_mib(c)  # and what the requests loaded
    return row


def failures(row: dict[str, Any]) -> list[str]:
    """What did not work in an app's runs (each was reported with its logs as it happened)."""
    found = [f"{what} with the datastores" for key, what in (("start_to_ready_s", "never ready"),
             ("start_to_healthy_s", "never healthy")) if row.get(key) is None]  # fmt: skip
    latency = row.get("latency") or {}
    if not found and latency.get("p50_ms") is None:
        found.append(f"GET {latency.get('path')} failed: {latency.get('error')}")
    for i, run in enumerate((row.get("alone") or {}).get("runs", []), 1):
        found += [f"alone run {i} {what}" for key, what in (("ready_s", "never ready"), ("healthy_s", "never healthy"))
                  if run.get(key) is None]  # fmt: skip
    return found
