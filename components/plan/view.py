"""`StackView`: the facts about one stack that the rules and the resolver both read (which
services are enabled, public, routed to; which secrets are in use), computed once from the
validated catalog and parsed settings."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from components.config.catalog import Catalog, SecretSpec, ServiceSpec
from components.config.settings import Settings, StackKind
from components.config.templates import secret_names


@dataclass(frozen=True)
class StackView:
    catalog: Catalog
    settings: Settings
    enabled: frozenset[str]
    public: tuple[str, ...]  # enabled public services with a port, in catalog order
    # `kubernetes.ingress.service`, or the only public service when it is unset (None: several)
    routed: str | None
    secrets_in_use: tuple[str, ...]  # dependencies first

    @classmethod
    def of(cls, catalog: Catalog, settings: Settings) -> StackView:
        enabled = frozenset(spec.name for spec in catalog.services if settings.service(spec.name).enabled)
        public = public_services(catalog, enabled)
        return cls(
            catalog=catalog,
            settings=settings,
            enabled=enabled,
            public=public,
            routed=settings.kubernetes.ingress.service or (public[0] if len(public) == 1 else None),
            secrets_in_use=secrets_in_use(catalog, enabled),
        )


def published_port(spec: ServiceSpec, settings: Settings) -> int | None:
    """The 127.0.0.1 port of a public service (and, with dev.publishDatabases, of a stateful
    one) on the docker target: `services.<name>.hostPort`, else its own port."""
    if spec.port is None:
        return None
    if not (spec.public or (spec.state is not None and settings.dev.publish_databases)):
        return None
    return settings.service(spec.name).host_port or spec.port


def debugged(spec: ServiceSpec, settings: Settings) -> bool:
    """Whether the stack runs `spec` under its catalog debugger (dev.debug / services.<name>.debug)."""
    return spec.debug is not None and settings.kind is StackKind.DEV and settings.debugs(spec.name)


def debug_host_port(spec: ServiceSpec, settings: Settings) -> int | None:
    """The 127.0.0.1 port a debugged service's debugger is published on: `services.<name>.debugHostPort`,
    else the catalog's debug.port."""
    if spec.debug is None or not debugged(spec, settings):
        return None
    return settings.service(spec.name).debug_host_port or spec.debug.port


def public_services(catalog: Catalog, enabled: AbstractSet[str]) -> tuple[str, ...]:
    """Enabled public services with a port: what the Ingress may route to."""
    return tuple(spec.name for spec in catalog.services if spec.public and spec.port and spec.name in enabled)


def from_config(declared: SecretSpec, enabled: AbstractSet[str]) -> bool:
    """Read from its config secret: its owner is disabled (an external service), or it has
    no value of its own."""
    external = declared.owner is not None and declared.owner not in enabled
    return external or not (declared.generate or declared.template)


def secrets_in_use(catalog: Catalog, enabled: AbstractSet[str]) -> tuple[str, ...]:
    """The secrets the enabled services' env uses, directly or through the templates of the
    secrets it uses (not a template replaced from config), dependencies first."""
    order: dict[str, None] = {}  # insertion-ordered set: membership is O(1)

    def uses(name: str) -> list[str]:
        declared = catalog.secrets[name]
        if declared.template and not from_config(declared, enabled):
            return [used for used in secret_names(declared.template) if used in catalog.secrets]
        return []

    def need(name: str) -> None:
        # Depth-first, dependencies first, with an explicit stack: a chain of templates as long
        # as the catalog allows must not meet Python's recursion limit. Cycles are refused by
        # the catalog's rules before this runs; `entered` keeps a cycle from looping anyway.
        entered: set[str] = set()
        pending = [(name, False)]
        while pending:
            current, expanded = pending.pop()
            if current in order or current not in catalog.secrets:
                continue
            if expanded:
                order[current] = None
                continue
            if current in entered:
                continue
            entered.add(current)
            pending.append((current, True))
            pending.extend((used, False) for used in reversed(uses(current)))

    for spec in catalog.services:
        if spec.name in enabled:
            for value in spec.env.values():
                for used in secret_names(value):
                    need(used)
    return tuple(order)
