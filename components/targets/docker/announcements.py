"""The line that says, on a container's row of `pulumi up`, what its creation waits for: a
service's health check (up to HEALTH_WAIT_SECONDS), a one-shot's run to completion.

Said when the container is created or replaced, from a `before_create` resource hook: an `up`
that changes nothing creates nothing and says nothing (the health gates still check every
service, and say so only when one has to wait: health_gates.py). Where the engine runs no hooks
(an older CLI, the unit tier's mocks), it is said as the container is registered, as it was
before hooks existed."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from components.plan.container import ContainerPlan
from components.targets.docker.container_inputs import HEALTH_WAIT_SECONDS

HOOK_NAME = "dockyard-announce-wait"


def wait_message(service: str, plan: ContainerPlan) -> str | None:
    if plan.one_shot:
        return f"{service}: runs to completion before the services after it start"
    if plan.health_test:
        return f"{service}: waiting until its health check passes (up to {HEALTH_WAIT_SECONDS}s)"
    return None


class WaitAnnouncements:
    """The stack's containers' messages, keyed by container name (what the hook is handed)."""

    def __init__(self, on_create: bool):
        self.on_create = on_create  # said by the before_create hook, else at registration
        self._messages: dict[str, str] = {}
        self._containers: dict[str, docker.Container] = {}
        self._hook: pulumi.ResourceHook | None = None

    def expect(self, service: str, plan: ContainerPlan) -> None:
        """Before the container is registered: its hook may run as soon as it is."""
        if message := wait_message(service, plan):
            self._messages[plan.name] = message

    def registered(self, plan: ContainerPlan, container: docker.Container) -> None:
        self._containers[plan.name] = container
        if not self.on_create and not pulumi.runtime.is_dry_run() and plan.name in self._messages:
            pulumi.log.info(self._messages[plan.name], resource=container)

    def announce(self, args: pulumi.ResourceHookArgs) -> None:
        """The hook: a container of this stack is about to be created (first time, or replaced)."""
        name = (args.new_inputs or {}).get("name")
        if pulumi.runtime.is_dry_run() or not isinstance(name, str) or name not in self._messages:
            return
        pulumi.log.info(self._messages[name], resource=self._containers.get(name))

    def hooks(self, others: pulumi.ResourceHookBinding | None) -> pulumi.ResourceHookBinding | None:
        """`others` (the leftover remover's) with the announcement after them, when said on create."""
        if not self.on_create:
            return others
        if self._hook is None:
            self._hook = pulumi.ResourceHook(HOOK_NAME, self.announce)
        before = list(others.before_create or []) if others is not None else []
        return pulumi.ResourceHookBinding(before_create=[*before, self._hook])


def wait_announcements() -> WaitAnnouncements:
    return WaitAnnouncements(monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_HOOKS))
