"""`DockerEnvironment`: the catalog as Docker network, volumes and hardened containers.

What each container is comes from `container_plan` (components/plan/container.py, plain data,
shared with the compose file) and becomes the provider's inputs in container_inputs.py; this
component only registers the resources, in dependency order, each waiting
through a health gate (health_gates.py) for what it depends on to be healthy (or, for a
one-shot service such as migrations, to have exited 0).

Inputs the provider only records in state (health check, tmpfs) replace the container when
they change, so a change always reaches it.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.config.settings import Settings
from components.core.docker_names import network_name
from components.core.labels import STACK_LABEL
from components.plan.container import LOG_OPTIONS, STOP_GRACE_SECONDS, ContainerPlan, container_plan
from components.targets.args import EnvironmentArgs
from components.targets.docker.announcements import wait_announcements
from components.targets.docker.container_inputs import (
    HEALTH_WAIT_SECONDS,
    container_env,
    health_check_args,
    lifecycle_args,
    memory_swap_mb,
    no_health_check,
    volume_args,
)
from components.targets.docker.dev_loop import config_writer, debug_address, generated_config_volume
from components.targets.docker.engine import DockerEngine
from components.targets.docker.health_gates import require_success, wait_healthy
from components.targets.docker.leftovers import leftover_hooks

LOOPBACK = "127.0.0.1"  # where published ports (and debuggers) listen on the host
# Inputs the provider updates in state only (no Docker API call): a change must replace.
REPLACE_ON_CHANGES = ["healthcheck", "tmpfs"]


class DockerEnvironment(pulumi.ComponentResource):
    """The whole stack on the local Docker engine.

    Outputs: `network` (its name), `urls` (service -> http://127.0.0.1:port for
    published services), `debug` (service -> 127.0.0.1:port of its debugger, with dev.debug)
    and `containers` (service -> container name).
    """

    def __init__(
        self,
        name: str,
        args: EnvironmentArgs,
        *,
        project_dir: Path,
        engine: DockerEngine,
        swap_accounted: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        # The type's name until 0.2: the alias keeps existing stacks' resources (no replacement).
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="dockyard:index:LocalEnvironment")])
        )
        super().__init__("dockyard:index:DockerEnvironment", name, None, opts)
        stack, images, secrets = args.stack, args.images, args.secrets
        settings = stack.settings
        child = pulumi.ResourceOptions(parent=self)
        # An interrupted `up` may have left the network or a container on the engine, unknown to
        # the state: removed just before it is created again (leftovers.py).
        leftovers = leftover_hooks(engine, settings.stack, STOP_GRACE_SECONDS)
        # What a container's creation waits for, said when it is created (not on every `up`).
        announcements = wait_announcements()
        container_hooks = announcements.hooks(leftovers)
        self.network = docker.Network(
            f"{name}-network",
            name=network_name(settings.stack),
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label=STACK_LABEL, value=settings.stack)],
            opts=pulumi.ResourceOptions(parent=self, hooks=leftovers),
        )
        self.containers: dict[str, docker.Container] = {}
        # service -> its container, resolved only once it is healthy (or, for a one-shot,
        # exited 0): what starts after it depends on this Output, so its creation waits.
        ready: dict[str, pulumi.Output[docker.Container]] = {}
        self.urls: dict[str, str] = {}
        self.debug: dict[str, str] = {}
        for resolved in stack.services.values():  # start order
            service, spec = resolved.name, resolved.spec
            plan = container_plan(resolved, settings, project_dir)
            if spec.public and plan.published:
                self.urls[service] = f"http://{LOOPBACK}:{plan.published[0].external}"
            if address := debug_address(resolved, LOOPBACK):
                self.debug[service] = address
            # What the container mounts (its volumes, the config writer that fills one): created first.
            volumes: list[pulumi.Resource] = [self._volume(name, plan, settings)] if plan.volume else []
            if plan.config:  # the generated config, in a volume a never-started container fills
                config_volume = generated_config_volume(f"{name}-{service}", plan.config, settings.stack, child)
                volumes += [config_volume, config_writer(
                    f"{name}-{service}", plan.config, service=service, image=images[service], user=plan.user,
                    memory_mb=plan.memory_mb, memory_swap_mb=memory_swap_mb(plan.memory_mb, swap_accounted),
                    data_path=plan.data_path,
                    healthcheck=no_health_check(),
                    stack=settings.stack, opts=pulumi.ResourceOptions(parent=self, depends_on=[config_volume]),
                )]  # fmt: skip
            envs = [pulumi.Output.concat(key, "=", value) for key, value in container_env(resolved, secrets).items()]
            announcements.expect(service, plan)
            container = docker.Container(
                f"{name}-{service}",
                name=plan.name,
                image=images[service],
                user=plan.user,
                read_only=plan.read_only,
                tmpfs=plan.tmpfs,
                capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
                security_opts=["no-new-privileges:true"],
                memory=plan.memory_mb,
                memory_swap=memory_swap_mb(plan.memory_mb, swap_accounted),
                cpus=plan.cpus,
                envs=envs,
                command=list(plan.command) if plan.command else None,
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[service])],
                ports=[
                    docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=LOOPBACK)
                    for p in plan.published
                ],
                volumes=volume_args(plan),
                healthcheck=health_check_args(plan),
                labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in plan.labels.items()],
                log_driver="json-file",
                log_opts=LOG_OPTIONS,
                stop_timeout=STOP_GRACE_SECONDS,
                destroy_grace_seconds=STOP_GRACE_SECONDS,
                **lifecycle_args(plan),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # An Output dependency: known in a preview (no spurious diff), awaited in an up.
                    depends_on=[*(ready[d] for d in plan.depends_on), *volumes],
                    delete_before_replace=True,  # fixed container names cannot exist twice
                    replace_on_changes=REPLACE_ON_CHANGES,
                    hooks=container_hooks,
                ),
            )
            announcements.registered(plan, container)
            if spec.one_shot:
                gate = pulumi.Output.all(container.exit_code, container.container_logs).apply(
                    require_success(engine, service, plan.name)
                )
            else:
                gate = container.id.apply(wait_healthy(engine, service, HEALTH_WAIT_SECONDS))
            ready[service] = _after(gate, container)
            self.containers[service] = container
        self.register_outputs(
            {
                "network": self.network.name,
                "urls": self.urls,
                "debug": self.debug,
                "containers": {service: c.name for service, c in self.containers.items()},
            }
        )

    def _volume(self, name: str, plan: ContainerPlan, settings: Settings) -> docker.Volume:
        # Data outlives containers: replacing postgres keeps its volume.
        return docker.Volume(
            f"{name}-{plan.service}-data",
            name=plan.volume,
            labels=[docker.VolumeLabelArgs(label=STACK_LABEL, value=settings.stack)],
            # `pulumi destroy` (make down) keeps the data, as `compose down` does; `make down
            # purge=1` removes it. A later `up` re-adopts the volume by its name.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )


def _after(gate: pulumi.Output[str], container: docker.Container) -> pulumi.Output[docker.Container]:
    """`container`, resolved once its health gate has passed (a function, not a lambda in the loop:
    each gate keeps its own container)."""
    return gate.apply(lambda _: container)
