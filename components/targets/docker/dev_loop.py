"""The dev loop on Docker: a service under its catalog debugger (its command, the debugger's port
published on 127.0.0.1) or with hot reload runs its dev stage, which writes next to its source
(a named opt-out from the read-only root); the monitoring service reads its generated scrape
config from a volume of its own, mounted read-only.

That volume is filled by a container that is created and never started: the docker provider's
`uploads` copy a file in before a container starts, extracting at `/`, which Docker refuses for
a read-only root even when the file lands in a volume; the monitoring service keeps its
read-only root and mounts what the writer left there."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.config.catalog import OPT_OUT_READ_ONLY_ROOT
from components.core.labels import CONFIG_WRITER_LABEL, ONE_SHOT_LABEL, OPT_OUT_PREFIX, SERVICE_LABEL, STACK_LABEL
from components.plan.container import ConfigFile
from components.plan.resolve import Service

WRITER_REASON = "never started: created so the provider can upload the generated config into its volume"
WRITER_TMPFS_OPTIONS = "ro,size=4k"  # over the data path of a container that never runs


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
        SERVICE_LABEL: service,
        CONFIG_WRITER_LABEL: "true",
        ONE_SHOT_LABEL: "true",
        f"{OPT_OUT_PREFIX}{OPT_OUT_READ_ONLY_ROOT}": WRITER_REASON,
    }
    return docker.Container(
        # `local-<service>_config`: `local-<service>-config` would be the container of a service
        # named `<service>-config` (one URN for two resources).
        f"{name}_config",
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
