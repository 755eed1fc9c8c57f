"""The health gates of the Docker target: apply callbacks that poll the engine during `pulumi up`
so that what starts after a service waits until it is healthy (`wait_healthy`) or, for a
one-shot such as migrations, has exited 0 (`require_success`); and the line that says, on the
container's row of `pulumi up`, what it waits for (`announce_wait`)."""

from __future__ import annotations

import time

import pulumi
import pulumi_docker as docker

from components.plan.container import ContainerPlan
from components.targets.docker.container_inputs import HEALTH_WAIT_SECONDS
from components.targets.docker.engine import DockerEngine

HEALTH_POLL_SECONDS = 1
HEALTH_PROGRESS_SECONDS = 10  # how often a long wait says what it waits for
ONE_SHOT_LOG_LINES = 20  # of a failed one-shot's output, quoted in the error


def _log_tail(logs: str | None) -> str:
    lines = (logs or "").strip().splitlines()[-ONE_SHOT_LOG_LINES:]
    return "\n".join(f"    | {line}" for line in lines)


def require_success(engine: DockerEngine | None, service: str, container_name: str):
    """An apply callback over (exit code, logs): "0" when the one-shot succeeded, else an error
    quoting its last log lines. The failed container is removed (its logs are in the message),
    so the next `make up` (which refreshes first) runs it again: a failure whose cause lies
    outside the inputs (a database that was down) recovers with no manual step."""

    def check(result: list) -> str:
        exit_code, logs = result
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
        raise RuntimeError(message)

    return check


def wait_healthy(engine: DockerEngine, service: str, timeout_seconds: int, clock=time.monotonic, sleep=time.sleep):
    """An apply callback: block until the container is healthy, saying what it waits for.

    The provider waits for health only when it creates a container; after a timeout the
    next `up` merely updates it, so dependants re-check here on every `up`."""

    def check(container_id: str) -> str:
        if pulumi.runtime.is_dry_run() or not container_id:
            return "healthy"
        started = clock()
        last_said = started
        while True:
            status = engine.health(container_id)
            if status == "healthy":
                return "healthy"
            waited = clock() - started
            if waited >= timeout_seconds:
                raise RuntimeError(
                    f"service {service!r} is {status}, not healthy, after {int(waited)}s; see "
                    f"`docker inspect --format '{{{{json .State.Health}}}}' {container_id[:12]}`. "
                    "Services that talk to it were not started."
                )
            if clock() - last_said >= HEALTH_PROGRESS_SECONDS:
                pulumi.log.info(f"waiting for {service} to be healthy: {status}, {int(waited)}s of {timeout_seconds}s")
                last_said = clock()
            sleep(HEALTH_POLL_SECONDS)

    return check


def announce_wait(service: str, plan: ContainerPlan, container: docker.Container) -> None:
    """Says, on the container's line of `pulumi up`, what it waits for and how long at most."""
    if pulumi.runtime.is_dry_run():
        return
    if plan.one_shot:
        message = f"{service}: runs to completion before the services after it start"
    elif plan.health_test:
        message = f"{service}: waiting until its health check passes (up to {HEALTH_WAIT_SECONDS}s)"
    else:
        return
    pulumi.log.info(message, resource=container)
