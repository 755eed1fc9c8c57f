"""A container plan (components/plan/container.py: what each container is, in plain data) as the
Docker provider's `Container` inputs: health check, volumes, env, swap, lifecycle. Nothing here
registers a resource: environment.py does.

Values are sent in the form the Docker provider reads back (durations, `memory_swap` on hosts
without swap accounting, explicit timings under a NONE health check), so a second `pulumi up`
shows no changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import pulumi
import pulumi_docker as docker

from components.plan.container import ContainerPlan, HealthTiming
from components.plan.resolve import Service
from components.plan.secrets import fill_secrets

# How long a service may take to turn healthy: the health gate's wait (health_gates.py) on every `up`.
HEALTH_WAIT_SECONDS = 180
NO_HEALTH_CHECK_TIMING: HealthTiming = {"interval": "1s", "timeout": "1s", "start_period": "1s", "start_interval": "1s", "retries": 1}


def memory_swap_mb(memory_mb: int, swap_accounted: bool) -> int:
    """No swap beyond the memory limit. Without swap accounting Docker stores -1 whatever is
    asked (the limit cannot apply there), so ask for -1 and the state matches."""
    return memory_mb if swap_accounted else -1


def no_health_check() -> docker.ContainerHealthcheckArgs:
    """NONE. Docker fills a zero timing from the image's HEALTHCHECK and the provider reads that
    back: explicit values (unused under NONE) keep a second `up` free of changes."""
    return docker.ContainerHealthcheckArgs(tests=["NONE"], **NO_HEALTH_CHECK_TIMING)


def health_check_args(plan: ContainerPlan) -> docker.ContainerHealthcheckArgs | None:
    if plan.one_shot:
        # Not the image's own check: it would probe a server that a one-shot never starts,
        # on the one-shot's CPU share (measured: migrations 11.8 s with it, 6.7 s without).
        return no_health_check()
    if plan.health_test is None:
        return None
    return docker.ContainerHealthcheckArgs(tests=list(plan.health_test), **plan.health_timing)


def container_env(service: Service, secrets: Mapping[str, pulumi.Output[str]]) -> dict[str, pulumi.Input[str]]:
    """The container's env in the catalog's order; a value that uses a secret is a secret Output."""
    return {
        key: service.plain_env[key] if key in service.plain_env else fill_secrets(service.secret_env[key], secrets)
        for key in service.spec.env
    }


def volume_args(plan: ContainerPlan) -> list[docker.ContainerVolumeArgs]:
    volumes = []
    if plan.volume:
        volumes.append(docker.ContainerVolumeArgs(volume_name=plan.volume, container_path=plan.data_path))
    if plan.source_bind:
        host, container = plan.source_bind
        volumes.append(docker.ContainerVolumeArgs(host_path=host, container_path=container, read_only=True))
    if plan.config:
        volumes.append(
            docker.ContainerVolumeArgs(
                volume_name=plan.config.volume, container_path=plan.config.directory, read_only=True
            )
        )
    return volumes


class Lifecycle(TypedDict, total=False):
    """The `Container` inputs `lifecycle_args` sets."""

    attach: bool
    must_run: bool
    logs: bool
    restart: str
    wait: bool


def lifecycle_args(plan: ContainerPlan) -> Lifecycle:
    """How the container runs: a one-shot to completion during `pulumi up` (its exit code gates
    what starts after it), a long-running service restarted unless stopped. The provider does not
    wait for health (its wait saw a crash only as a time-out): the health gate does
    (health_gates.py `wait_healthy`), and fails at once on a crash."""
    if plan.one_shot:
        return {"attach": True, "must_run": False, "logs": True, "restart": "no", "wait": False}
    return {"restart": "unless-stopped", "wait": False, "must_run": True}
