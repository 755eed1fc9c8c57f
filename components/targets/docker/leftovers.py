"""What an interrupted `up` may leave on the engine, taken away just before the object is created
again. A `pulumi up` killed (SIGKILL, a closed laptop) while the provider was creating a container
or the network leaves the object on the engine and only a *pending create* in the state: the state
does not know it, so the next `up` creates it again, and Docker refuses the second object of that
name ("Conflict. The container name … is already in use"). A `before_create` resource hook runs
only when the engine is about to create the resource, never for one the state holds (a replacement
deletes the old object first: delete_before_replace), so the object it finds under that name is a
leftover: it is removed when it carries this stack's label, and left alone (the create then says
why it cannot) when it belongs to anything else. Volumes are never removed here: Docker hands the
existing volume of that name back to a create, data and all."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from components.targets.docker.engine import DockerEngine, EngineUnreachable

CONTAINER_TYPE = "docker:index/container:Container"
NETWORK_TYPE = "docker:index/network:Network"
KINDS = {CONTAINER_TYPE: "container", NETWORK_TYPE: "network"}


def remover(engine: DockerEngine, stack: str, grace_seconds: int) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The hook's function: remove the leftover container or network this create would meet."""

    def remove(args: pulumi.ResourceHookArgs) -> None:
        kind = KINDS.get(args.type)
        name = (args.new_inputs or {}).get("name")
        if kind is None or not isinstance(name, str):
            return
        try:
            removed = engine.remove_leftover(kind, name, stack, grace_seconds)
        except EngineUnreachable as error:  # the create itself then says what is wrong
            pulumi.log.warn(f"could not check for a leftover {kind} {name!r}: {error}")
            return
        if removed:
            pulumi.log.info(
                f"removed the {kind} {name!r} an interrupted `up` left behind (created, never recorded in the "
                "state); creating it again"
            )

    return remove


def leftover_hooks(engine: DockerEngine | None, stack: str, grace_seconds: int) -> pulumi.ResourceHookBinding | None:
    """`hooks=` for the stack's containers and network; None without an engine to ask, or where the
    engine runs no hooks (the unit tier's mocks: the real tier's interrupted `up`s exercise it)."""
    if engine is None or not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS):
        return None
    hook = pulumi.ResourceHook("dockyard-remove-leftover", remover(engine, stack, grace_seconds))
    return pulumi.ResourceHookBinding(before_create=[hook])
