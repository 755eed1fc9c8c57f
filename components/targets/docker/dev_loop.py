"""The dev loop on Docker: a service under its catalog debugger (its command, the debugger's port
published on 127.0.0.1) or with hot reload runs its dev stage, which writes next to its source
(a named opt-out from the read-only root); the monitoring service reads its generated scrape
config from a volume of its own, mounted read-only.

That volume is filled by a container that is created and never started: the docker provider's
`uploads` copy a file in before a container starts, extracting at `/`, which Docker refuses for
a read-only root even when the file lands in a volume; the monitoring service keeps its
read-only root and mounts what the writer left there."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.config.catalog import OPT_OUT_READ_ONLY_ROOT
from components.core.labels import OPT_OUT_PREFIX, STACK_LABEL
from components.plan.resolve import Service

HOT_RELOAD_REASON = "dev.hotReload: the dev server writes build caches next to the bind-mounted source"
DEBUG_REASON = "dev.debug: the dev stage's server runs under its debugger and writes build caches next to its source"
WRITER_REASON = "never started: created so the provider can upload the generated config into its volume"
CONFIG_LABEL = "dockyard.dev/config-sha256"  # on the monitoring service: a new config replaces it
WRITER_LABEL = "dockyard.dev/config-writer"  # "true" on the container that writes it (never started)
WRITER_TMPFS_OPTIONS = "ro,size=4k"  # over the data path of a container that never runs


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


def dev_stage_reason(service: Service, hot_reload: bool) -> str | None:
    """Why the service's root is writable: it runs its dev stage (None: it runs its runtime stage)."""
    if not service.dev_stage:
        return None
    return HOT_RELOAD_REASON if hot_reload else DEBUG_REASON


def config_file(service: Service, prefix: str) -> ConfigFile | None:
    if service.monitoring_config is None:
        return None
    path = service.spec.monitoring.config_file
    return ConfigFile(
        volume=f"{prefix}-{service.name}-config",
        writer=f"{prefix}-{service.name}-config",
        directory=posixpath.dirname(path),
        path=path,
        content=service.monitoring_config,
    )


def debug_address(service: Service, loopback: str) -> str | None:
    """Where a debugger attaches from the host: `127.0.0.1:<debugHostPort>`."""
    return f"{loopback}:{service.debug_port}" if service.debug is not None else None


def generated_config_volume(name: str, config: ConfigFile, stack: str, opts: pulumi.ResourceOptions) -> docker.Volume:
    """The volume the config is written to: generated on every `up`, nothing in it to keep."""
    return docker.Volume(
        f"{name}-config-volume",
        name=config.volume,
        labels=[docker.VolumeLabelArgs(label=STACK_LABEL, value=stack)],
        opts=opts,
    )


def config_writer(
    name: str, config: ConfigFile, *, service: str, image: pulumi.Input[str], user: str, memory_mb: int,
    memory_swap_mb: int, data_path: str | None, healthcheck: docker.ContainerHealthcheckArgs, stack: str,
    opts: pulumi.ResourceOptions,
) -> docker.Container:  # fmt: skip
    """The container that fills the config volume on create (hardened like the others, though it
    never runs: no network, no capabilities; exempt from a health check as a one-shot). An empty
    tmpfs covers the service's data path: the image declares it a VOLUME, and without a mount
    there Docker would give the writer an anonymous volume of its own."""
    labels = {
        STACK_LABEL: stack,
        "dockyard.dev/service": service,
        WRITER_LABEL: "true",
        "dockyard.dev/one-shot": "true",
        f"{OPT_OUT_PREFIX}{OPT_OUT_READ_ONLY_ROOT}": WRITER_REASON,
    }
    return docker.Container(
        f"{name}-config",
        name=config.writer,
        image=image,
        start=False,
        must_run=False,
        restart="no",
        user=user,
        read_only=False,
        network_mode="none",
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        security_opts=["no-new-privileges:true"],
        memory=memory_mb,
        memory_swap=memory_swap_mb,  # as the engine stores it (a second `up` changes nothing)
        volumes=[docker.ContainerVolumeArgs(volume_name=config.volume, container_path=config.directory)],
        tmpfs={data_path: WRITER_TMPFS_OPTIONS} if data_path else None,
        uploads=[docker.ContainerUploadArgs(file=config.path, content=config.content)],
        healthcheck=healthcheck,  # NONE, with timings a second `up` reads back unchanged
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(replace_on_changes=["uploads"], delete_before_replace=True)
        ),
    )
