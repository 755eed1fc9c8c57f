"""The health gates of the Docker target: apply callbacks that poll the engine during `pulumi up`
so that what starts after a service waits until it is healthy (`wait_healthy`) or, for a
one-shot such as migrations, has exited 0 (`require_success`). What a new container's row says
it waits for: announcements.py. A service that crashes or never gets healthy fails the `up`
naming it, its exit code or health status, and its last output."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.errors import RunError

from components.targets.docker.engine import DockerEngine

HEALTH_POLL_SECONDS = 1
HEALTH_PROGRESS_SECONDS = 10  # how often a long wait says what it waits for
ONE_SHOT_LOG_LINES = 20  # of a failed service's output, quoted in the error


class ServiceFailed(RunError, RuntimeError):
    """A service that failed during `up`. A RunError: Pulumi prints its message alone, without a
    Python traceback."""


def _log_tail(logs: str | None) -> str:
    lines = (logs or "").strip().splitlines()[-ONE_SHOT_LOG_LINES:]
    return "\n".join(f"    | {line}" for line in lines)


def require_success(engine: DockerEngine | None, service: str, container_name: str) -> Callable[[list[Any]], str]:
    """An apply callback over (exit code, logs): "0" when the one-shot succeeded, else an error
    quoting its last log lines. The failed container is removed (its logs are in the message),
    so the next `make up` (which refreshes first) runs it again: a failure whose cause lies
    outside the inputs (a database that was down) recovers with no manual step."""

    def check(result: list[Any]) -> str:
        exit_code, logs = result  # Output.all(exit code: int | None, logs: str | None)
        if exit_code in (None, 0):
            return "0"
        message = (
            f"one-shot service {service!r} exited with code {exit_code}; services after it were not "
            f"started. Its last output:\n{_log_tail(logs)}\n"
            "Fix the cause, then `make up` (or `pulumi up --refresh`) runs it again."
        )
        if pulumi.runtime.is_dry_run():
            # A preview only reports it: raising here would block previewing the fix itself.
            pulumi.log.warn(message)
            return "0"
        if engine is not None:
            engine.remove_container(container_name)
        raise ServiceFailed(message)

    return check


CRASHED_STATES = ("exited", "dead", "restarting")
# A container's `State` as the Engine API's JSON has it (DockerEngine.state): values of many types.
ContainerState = dict[str, Any]


def _crash(state: ContainerState, restarts_before: int) -> bool:
    """Whether a long-running container has stopped on its own since the gate began: it is not
    running (or Docker is restarting it), or it restarted meanwhile."""
    return state.get("Status") in CRASHED_STATES or int(state.get("RestartCount") or 0) > restarts_before


def _last_probe(state: ContainerState) -> str:
    """The output of the container's last health check, on one line, or ""."""
    probes = (state.get("Health") or {}).get("Log") or []
    if not probes:
        return ""
    last = probes[-1]
    said = " ".join(str(last.get("Output") or "").split())[:300]
    return f" Its last health check exited {last.get('ExitCode')}" + (f": {said}" if said else "") + "."


def _failed(engine: DockerEngine, service: str, container_id: str, what: str, state: ContainerState) -> ServiceFailed:
    """The error for a long-running service that crashed or never got healthy: what happened, its
    last output. The container is stopped (it keeps its logs: `docker logs`) so that its restart
    policy does not loop it meanwhile; the next `make up`, which refreshes first, finds it stopped
    and starts it again, or replaces it when the fix changed its image or settings."""
    tail = _log_tail(engine.log_tail(container_id, ONE_SHOT_LOG_LINES))
    engine.stop_container(container_id)
    return ServiceFailed(
        f"service {service!r} {what}; services that talk to it were not started.{_last_probe(state)}"
        + (f" Its last output:\n{tail}\n" if tail else " It printed nothing.\n")
        + "Fix the cause, then `make up` (or `pulumi up --refresh`) starts it again."
    )


def wait_healthy(
    engine: DockerEngine,
    service: str,
    timeout_seconds: int,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[str], str]:
    """An apply callback: block until the container is healthy, saying what it waits for; fail
    at once when it crashes (exits, or its restart policy restarts it), naming its exit code and
    quoting its last output, or after `timeout_seconds` with its health status.

    The gate is the only wait: the provider creates the container without waiting (its own wait
    saw a crash only as a time-out, after 180 s, in its own words), and dependants re-check here
    on every `up`."""

    def check(container_id: str) -> str:
        if pulumi.runtime.is_dry_run() or not container_id:
            return "healthy"
        started = clock()
        last_said = started
        restarts_before = None
        while True:
            state = engine.state(container_id)
            status = str((state.get("Health") or {}).get("Status") or state.get("Status") or "unknown")
            if status == "healthy":
                return "healthy"
            if restarts_before is None:  # restarts before this `up` (a SIGTERM, a reboot) are not its crash
                restarts_before = int(state.get("RestartCount") or 0)
            if _crash(state, restarts_before):
                raise _failed(
                    engine, service, container_id,
                    f"stopped on start: it exited with code {state.get('ExitCode')}"
                    + (" and Docker is restarting it" if state.get("Status") == "restarting" else ""),
                    state,
                )  # fmt: skip
            waited = clock() - started
            if waited >= timeout_seconds:
                raise _failed(engine, service, container_id, f"is {status}, not healthy, after {int(waited)}s", state)
            if clock() - last_said >= HEALTH_PROGRESS_SECONDS:
                pulumi.log.info(f"waiting for {service} to be healthy: {status}, {int(waited)}s of {timeout_seconds}s")
                last_said = clock()
            sleep(HEALTH_POLL_SECONDS)

    return check
