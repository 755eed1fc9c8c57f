"""`container_plan`: one resolved service as a container on a Docker engine, in plain data.

Both renderers of a Docker engine's stack read it: `DockerEnvironment` (targets/docker) turns it
into provider resources, the compose file (targets/compose) into a compose service. It holds
everything about the container except values that are Outputs (image, secrets): user, read-only
root and its writable tmpfs (sized by the catalog's writableSize), limits, the catalog's health check and timing, published ports,
data volume, command, labels (each named opt-out among them), and the monitoring service's
generated config.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from components.config.catalog import OPT_OUT_READ_ONLY_ROOT, Health, ServiceSpec
from components.config.settings import Settings
from components.core.docker_names import config_volume_name, config_writer_name, container_name, data_volume_name
from components.core.durations import duration_nanos, go_duration
from components.core.labels import CONFIG_DIGEST_LABEL, ONE_SHOT_LABEL, OPT_OUT_PREFIX, SERVICE_LABEL, STACK_LABEL
from components.core.quantities import memory_bytes, memory_mb, provider_cpus
from components.plan.resolve import Service

TMPFS_FLAGS = "rw,noexec,nosuid"
STOP_GRACE_SECONDS = 30
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
HOT_RELOAD_REASON = "dev.hotReload: the dev server writes build caches next to the bind-mounted source"
DEBUG_REASON = "dev.debug: the dev stage's server runs under its debugger and writes build caches next to its source"


@dataclass(frozen=True)
class Published:
    internal: int
    external: int


@dataclass(frozen=True)
class ConfigFile:
    """A generated file the container reads: `content` at `path`, in volume `volume` at `directory`,
    written there by the never-started container `writer`."""

    volume: str
    writer: str
    directory: str
    path: str
    content: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()


class HealthTiming(TypedDict, total=False):
    """A health check's timing as the Docker provider's healthcheck inputs (and compose) take it,
    durations in their read-back form; empty for a service without a health check."""

    interval: str
    timeout: str
    start_period: str
    start_interval: str
    retries: int


@dataclass(frozen=True)
class ContainerPlan:
    """Everything about one container except values that are Outputs (image, secrets)."""

    service: str
    name: str
    user: str
    read_only: bool
    tmpfs: dict[str, str]
    memory_mb: int
    cpus: str
    health_test: tuple[str, ...] | None
    health_timing: HealthTiming
    one_shot: bool
    published: tuple[Published, ...]
    volume: str | None
    data_path: str | None
    source_bind: tuple[str, str] | None  # (host dir, container dir) for hot reload
    command: tuple[str, ...] | None
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    config: ConfigFile | None = None  # the monitoring service's generated config


def hot_reloading(spec: ServiceSpec, settings: Settings) -> bool:
    return settings.dev.hot_reload and spec.build is not None


def dev_stage_reason(service: Service, hot_reload: bool) -> str | None:
    """Why the service's root is writable: it runs its dev stage (None: it runs its runtime stage)."""
    if not service.dev_stage:
        return None
    return HOT_RELOAD_REASON if hot_reload else DEBUG_REASON


def config_file(service: Service, stack: str) -> ConfigFile | None:
    monitoring = service.spec.monitoring
    if service.monitoring_config is None or monitoring is None:  # both set for the monitoring service only
        return None
    path = monitoring.config_file
    return ConfigFile(
        volume=config_volume_name(stack, service.name),
        writer=config_writer_name(stack, service.name),
        directory=posixpath.dirname(path),
        path=path,
        content=service.monitoring_config,
    )


def _labels(spec: ServiceSpec, settings: Settings, opt_outs: Mapping[str, str]) -> dict[str, str]:
    labels = {
        STACK_LABEL: settings.stack,
        SERVICE_LABEL: spec.name,
        ONE_SHOT_LABEL: str(spec.one_shot).lower(),
    }
    labels.update({f"{OPT_OUT_PREFIX}{name}": reason for name, reason in opt_outs.items()})
    return labels


def container_plan(service: Service, settings: Settings, project_dir: Path) -> ContainerPlan:
    spec = service.spec
    reload = hot_reloading(spec, settings)
    opt_outs: dict[str, str] = dict(spec.opt_outs.items())  # with the dev stage's reason added below
    if why := dev_stage_reason(service, reload):
        opt_outs[OPT_OUT_READ_ONLY_ROOT] = why
    published: tuple[Published, ...] = ()
    if service.published_port and spec.port is not None:  # a published service has a port (view.py)
        published += (Published(spec.port, service.published_port),)
    if service.debug is not None and service.debug_port is not None:  # the debugger's, on 127.0.0.1 too
        published += (Published(service.debug.port, service.debug_port),)
    config = config_file(service, settings.stack)
    labels = _labels(spec, settings, opt_outs) | ({CONFIG_DIGEST_LABEL: config.digest} if config else {})
    source_bind = None
    if reload and spec.build is not None:  # hot reload: built services only (hot_reloading)
        source_bind = (str(project_dir / spec.build.context / spec.build.source_dir), spec.build.source_mount)
    return ContainerPlan(
        service=spec.name,
        name=container_name(settings.stack, spec.name),
        user=spec.user,
        read_only=OPT_OUT_READ_ONLY_ROOT not in opt_outs,
        tmpfs=dict.fromkeys(spec.writable_paths, tmpfs_options(spec.writable_size)),
        memory_mb=memory_mb(spec.resources.memory),
        cpus=provider_cpus(spec.resources.cpu),
        health_test=("CMD", *spec.health.command) if spec.health else None,
        health_timing=_health_timing(spec.health) if spec.health else {},
        one_shot=spec.one_shot,
        published=published,
        volume=data_volume_name(settings.stack, spec.name) if spec.state else None,
        data_path=spec.state.path if spec.state else None,
        source_bind=source_bind,
        command=service.debug.command if service.debug is not None else spec.command,
        labels=labels,
        depends_on=service.depends_on,
        config=config,
    )


def tmpfs_options(size: str) -> str:
    """A writable path's tmpfs: the catalog's writableSize, as Kubernetes sizes its emptyDir. In
    MiB when whole (`size=64m`, as before sizes were declared: an unchanged size reads back
    unchanged and replaces no container), else in bytes."""
    size_bytes = memory_bytes(size)
    written = f"{size_bytes // 2**20}m" if size_bytes % 2**20 == 0 else str(size_bytes)
    return f"{TMPFS_FLAGS},size={written}"


def _health_timing(health: Health) -> HealthTiming:
    def read_back(text: str) -> str:
        return go_duration(duration_nanos(text))

    return {
        "interval": read_back(health.interval), "timeout": read_back(health.timeout),
        "start_period": read_back(health.start_period), "start_interval": read_back(health.start_interval),
        "retries": health.retries,
    }  # fmt: skip
