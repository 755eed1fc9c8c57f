"""The 127.0.0.1 ports a stack publishes (services, debuggers, databases with
dev.publishDatabases), checked before anything is created: Docker itself finds a taken port only
when it starts the container, after the images were built and the network, volumes and earlier
containers created. A port that this stack's own running container holds is not taken: the next
`up` keeps or replaces that container."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from components.plan.resolve import ResolvedStack
from components.targets.docker.engine import DockerEngine, PortHolder

SUGGESTION_TRIES = 50  # ports above a taken one tried for a free one to suggest


@dataclass(frozen=True)
class WantedPort:
    port: int
    service: str
    what: str  # "frontend", "backend's debugger"
    setting: str  # the stack setting that moves it


def wanted_ports(stack: ResolvedStack) -> list[WantedPort]:
    """Every host port the stack's containers publish, with the setting that moves each."""
    wanted = []
    for service in stack.services.values():
        name = service.name
        if service.published_port:
            wanted.append(WantedPort(service.published_port, name, name, f"dockyard:services.{name}.hostPort"))
        if service.debug_port:
            wanted.append(
                WantedPort(service.debug_port, name, f"{name}'s debugger", f"dockyard:services.{name}.debugHostPort")
            )
    return wanted


def _free_port_above(port: int, engine: DockerEngine, unavailable: Iterable[int]) -> int | None:
    skip = set(unavailable)
    for candidate in range(port + 1, min(port + 1 + SUGGESTION_TRIES, 65536)):
        if candidate not in skip and engine.port_in_use(candidate) is False:
            return candidate
    return None


def port_problems(engine: DockerEngine, stack_name: str, wanted: list[WantedPort]) -> list[str]:
    """Why a wanted port cannot be published, one line each, naming the service, the port, what
    holds it and the setting that moves it; [] when all are free (or held by this stack)."""
    holders: Mapping[int, PortHolder] = engine.published_ports()
    problems = []
    for want in wanted:
        holder = holders.get(want.port)
        if holder is not None and holder.stack == stack_name:
            continue  # this stack's own container: kept or replaced by this `up`
        if holder is not None:
            owner = f"stack '{holder.stack}'s" if holder.stack else "the"
            who = f"{owner} container {holder.container}"
        elif engine.port_in_use(want.port):
            who = "another program on this machine"
        else:
            continue
        suggested = _free_port_above(want.port, engine, [*holders, *(w.port for w in wanted)])
        value = str(suggested) if suggested else "<a free port>"
        problems.append(
            f"port {want.port} on 127.0.0.1, where {want.what} is published, is taken by {who}: stop that, "
            f"or publish {want.what} on another port: `pulumi config set --path {want.setting} {value}`"
        )
    return problems
