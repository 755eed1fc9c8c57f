"""`DockerEnvironment`: the catalog as Docker network, volumes and hardened containers.

`container_plan` computes each container from its `ServiceSpec` and the stack
settings (plain data, tested without Pulumi); the component registers them in
dependency order, each waiting for what it depends on to be healthy (or, for a
one-shot service such as migrations, to have exited 0).

Values are sent in the form the Docker provider reads back (`cpus`, durations,
`memory_swap` on hosts without swap accounting), so a second `pulumi up` shows
no changes; inputs the provider only records in state (health check, tmpfs)
replace the container when they change, so a change always reaches it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.config.catalog import OPT_OUT_READ_ONLY_ROOT, Health, ServiceSpec
from components.config.settings import Settings
from components.core.durations import duration_nanos, go_duration
from components.core.labels import OPT_OUT_PREFIX, STACK_LABEL
from components.core.quantities import memory_mb, provider_cpus
from components.plan.resolve import Service
from components.plan.secrets import fill_secrets
from components.targets.args import EnvironmentArgs
from components.targets.docker.dev_loop import (
    CONFIG_LABEL,
    ConfigFile,
    config_file,
    config_writer,
    debug_address,
    dev_stage_reason,
    generated_config_volume,
)
from components.targets.docker.engine import DockerEngine

LOOPBACK = "127.0.0.1"
TMPFS_OPTIONS = "rw,noexec,nosuid,size=64m"
HEALTH_WAIT_SECONDS = 180
HEALTH_POLL_SECONDS = 1
HEALTH_PROGRESS_SECONDS = 10  # how often a long wait says what it waits for
# Inputs the provider updates in state only (no Docker API call): a change must replace.
REPLACE_ON_CHANGES = ["healthcheck", "tmpfs"]
STOP_GRACE_SECONDS = 30
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
NO_HEALTH_CHECK_TIMING = {"interval": "1s", "timeout": "1s", "start_period": "1s", "start_interval": "1s", "retries": 1}


@dataclass(frozen=True)
class Published:
    internal: int
    external: int


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
    health_timing: dict[str, str | int]  # healthcheck timing inputs, durations in read-back form
    one_shot: bool
    published: tuple[Published, ...]
    volume: str | None
    data_path: str | None
    source_bind: tuple[str, str] | None  # (host dir, container dir) for hot reload
    command: tuple[str, ...] | None
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    config: ConfigFile | None = None  # the monitoring service's generated config


def memory_swap_mb(memory_mb: int, swap_accounted: bool) -> int:
    """No swap beyond the memory limit. Without swap accounting Docker stores -1 whatever is
    asked (the limit cannot apply there), so ask for -1 and the state matches."""
    return memory_mb if swap_accounted else -1


def resource_prefix(settings: Settings) -> str:
    return f"dockyard-{settings.stack}"


def hot_reloading(spec: ServiceSpec, settings: Settings) -> bool:
    return settings.dev.hot_reload and spec.build is not None


def _labels(spec: ServiceSpec, settings: Settings, opt_outs: Mapping[str, str]) -> dict[str, str]:
    labels = {
        STACK_LABEL: settings.stack,
        "dockyard.dev/service": spec.name,
        "dockyard.dev/one-shot": str(spec.one_shot).lower(),
    }
    labels.update({f"{OPT_OUT_PREFIX}{name}": reason for name, reason in opt_outs.items()})
    return labels


def container_plan(service: Service, settings: Settings, project_dir: Path) -> ContainerPlan:
    spec = service.spec
    prefix = resource_prefix(settings)
    reload = hot_reloading(spec, settings)
    opt_outs = dict(spec.opt_outs)
    if why := dev_stage_reason(service, reload):
        opt_outs[OPT_OUT_READ_ONLY_ROOT] = why
    published = (Published(spec.port, service.published_port),) if service.published_port else ()
    if service.debug is not None:  # the debugger's port, on 127.0.0.1 like the service's
        published += (Published(service.debug.port, service.debug_port),)
    config = config_file(service, prefix)
    labels = _labels(spec, settings, opt_outs) | ({CONFIG_LABEL: config.digest} if config else {})
    source_bind = None
    if reload:
        source_bind = (str(project_dir / spec.build.context / spec.build.source_dir), spec.build.source_mount)
    return ContainerPlan(
        service=spec.name,
        name=f"{prefix}-{spec.name}",
        user=spec.user,
        read_only=OPT_OUT_READ_ONLY_ROOT not in opt_outs,
        tmpfs={path: TMPFS_OPTIONS for path in spec.writable_paths},
        memory_mb=memory_mb(spec.resources.memory),
        cpus=provider_cpus(spec.resources.cpu),
        health_test=("CMD", *spec.health.command) if spec.health else None,
        health_timing=_health_timing(spec.health) if spec.health else {},
        one_shot=spec.one_shot,
        published=published,
        volume=f"{prefix}-{spec.name}-data" if spec.state else None,
        data_path=spec.state.path if spec.state else None,
        source_bind=source_bind,
        command=service.debug.command if service.debug is not None else spec.command,
        labels=labels,
        depends_on=service.depends_on,
        config=config,
    )


def _health_timing(health: Health) -> dict[str, str | int]:
    durations = {
        "interval": health.interval, "timeout": health.timeout,
        "start_period": health.start_period, "start_interval": health.start_interval,
    }  # fmt: skip
    return {key: go_duration(duration_nanos(text)) for key, text in durations.items()} | {"retries": health.retries}


def _health_check(plan: ContainerPlan) -> docker.ContainerHealthcheckArgs | None:
    if plan.one_shot:
        # Not the image's own check: it would probe a server that a one-shot never starts,
        # on the one-shot's CPU share (measured: migrations 11.8 s with it, 6.7 s without).
        # Docker fills a zero timing from the image's HEALTHCHECK and the provider reads that
        # back: explicit values (unused under NONE) keep a second `up` free of changes.
        return docker.ContainerHealthcheckArgs(tests=["NONE"], **NO_HEALTH_CHECK_TIMING)
    if plan.health_test is None:
        return None
    return docker.ContainerHealthcheckArgs(tests=list(plan.health_test), **plan.health_timing)


def _env(service: Service, secrets: Mapping[str, pulumi.Output[str]]) -> dict[str, pulumi.Input[str]]:
    """The container's env in the catalog's order; a value that uses a secret is a secret Output."""
    return {
        key: service.plain_env[key] if key in service.plain_env else fill_secrets(service.secret_env[key], secrets)
        for key in service.spec.env
    }


def _volumes(plan: ContainerPlan) -> list[docker.ContainerVolumeArgs]:
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


def _announce_wait(service: str, plan: ContainerPlan, container: docker.Container) -> None:
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
        prefix = resource_prefix(settings)
        child = pulumi.ResourceOptions(parent=self)
        self.network = docker.Network(
            f"{name}-network",
            name=f"{prefix}-net",
            driver="bridge",
            labels=[docker.NetworkLabelArgs(label=STACK_LABEL, value=settings.stack)],
            opts=child,
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
            volumes = [self._volume(name, plan, settings)] if plan.volume else []
            if plan.config:  # the generated config, in a volume a never-started container fills
                config_volume = generated_config_volume(f"{name}-{service}", plan.config, settings.stack, child)
                volumes += [config_volume, config_writer(
                    f"{name}-{service}", plan.config, service=service, image=images[service], user=plan.user,
                    memory_mb=plan.memory_mb, memory_swap_mb=memory_swap_mb(plan.memory_mb, swap_accounted),
                    data_path=plan.data_path,
                    healthcheck=docker.ContainerHealthcheckArgs(tests=["NONE"], **NO_HEALTH_CHECK_TIMING),
                    stack=settings.stack, opts=pulumi.ResourceOptions(parent=self, depends_on=[config_volume]),
                )]  # fmt: skip
            envs = [pulumi.Output.concat(key, "=", value) for key, value in _env(resolved, secrets).items()]
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
                volumes=_volumes(plan),
                healthcheck=_health_check(plan),
                labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in plan.labels.items()],
                log_driver="json-file",
                log_opts=LOG_OPTIONS,
                stop_timeout=STOP_GRACE_SECONDS,
                destroy_grace_seconds=STOP_GRACE_SECONDS,
                **self._lifecycle(plan),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # An Output dependency: known in a preview (no spurious diff), awaited in an up.
                    depends_on=[ready[d] for d in plan.depends_on] + volumes,
                    delete_before_replace=True,  # fixed container names cannot exist twice
                    replace_on_changes=REPLACE_ON_CHANGES,
                ),
            )
            _announce_wait(service, plan, container)
            if spec.one_shot:
                gate = pulumi.Output.all(container.exit_code, container.container_logs).apply(
                    require_success(engine, service, plan.name)
                )
            else:
                gate = container.id.apply(wait_healthy(engine, service, HEALTH_WAIT_SECONDS))
            ready[service] = gate.apply(lambda _, c=container: c)
            self.containers[service] = container
        self.register_outputs(
            {
                "network": self.network.name,
                "urls": self.urls,
                "debug": self.debug,
                "containers": {service: c.name for service, c in self.containers.items()},
            }
        )

    @staticmethod
    def _lifecycle(plan: ContainerPlan) -> dict:
        if plan.one_shot:
            # Run to completion during `pulumi up`; its exit code gates what starts after it.
            return {"attach": True, "must_run": False, "logs": True, "restart": "no", "wait": False}
        return {"restart": "unless-stopped", "wait": True, "wait_timeout": HEALTH_WAIT_SECONDS, "must_run": True}

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
