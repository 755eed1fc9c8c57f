"""`resolve`: the catalog under one stack's settings, computed once per stack.

It runs after validation (validate.py), over the same `StackView`, and yields, per enabled service,
every per-stack fact a renderer needs: where its image comes from, replicas, resources,
the 127.0.0.1 port it is published on, its peers inside and outside the stack, and its
env with hosts and ports filled (secrets left as `{secret:name}`, filled from Outputs by
components/plan/secrets.py). `DockerEnvironment`, `KubernetesEnvironment`, the promotion and
`__main__.py` take this and re-derive nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config.catalog import Catalog, Debug, Generate, ServiceSpec, start_order
from components.config.settings import Settings
from components.config.templates import render_template
from components.core.gc_pause import collection_paused
from components.core.invariants import ensured
from components.plan.monitoring import scrape_config, scrape_targets
from components.plan.view import StackView, debug_host_port, debugged, from_config, published_port


@dataclass(frozen=True)
class ExternalPeer:
    """A disabled service this one talks to, replaced from config (the database in prod)."""

    service: str
    port: int


@dataclass(frozen=True)
class Service:
    spec: ServiceSpec  # the catalog's, with the stack's overrides (image, resources) applied
    upstream_image: str | None  # the pinned upstream reference, or None when built
    built_from: str | None  # the built service whose image it runs (itself, or imageOf)
    replicas: int
    published_port: int | None  # on 127.0.0.1 (docker target), None when not published
    peers: Mapping[str, int]  # enabled services it talks to -> their port
    clients: tuple[str, ...]  # enabled services that talk to it
    external_peers: tuple[ExternalPeer, ...]
    depends_on: tuple[str, ...]  # peers and one-shots it starts after (enabled only)
    routed: bool  # the Kubernetes Ingress routes `/` to it
    plain_env: Mapping[str, str]  # hosts and ports filled
    secret_env: Mapping[str, str]  # hosts and ports filled, `{secret:name}` left
    # The dev loop (dev stack only): a built service runs its build's dev stage with dev.hotReload
    # or under its debugger; `debug` is the catalog's debugger when it runs under it, published on
    # 127.0.0.1:`debug_port`; the monitoring service gets its generated scrape config.
    dev_stage: bool = False
    debug: Debug | None = None
    debug_port: int | None = None
    monitoring_config: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class StackSecret:
    """One secret this stack needs, and where its value comes from (exactly one)."""

    name: str
    generate: Generate | None = None
    template: str | None = None  # hosts and ports filled, `{secret:name}` left
    config: str | None = None  # the dockyard:<key> config secret


@dataclass(frozen=True)
class ResolvedStack:
    settings: Settings
    services: Mapping[str, Service]  # in start order
    secrets: Mapping[str, StackSecret]  # dependencies first

    @property
    def built(self) -> tuple[str, ...]:
        """Services whose image this stack's program builds (unless it promotes them)."""
        return tuple(name for name, service in self.services.items() if service.spec.build is not None)

    @property
    def on_built_images(self) -> tuple[str, ...]:
        """Services that run an image this project builds (their own, or one they share)."""
        return tuple(name for name, service in self.services.items() if service.built_from)

    def image_refs(self, built_refs: Mapping[str, Any], *, built_only: bool = False) -> dict[str, Any]:
        """service -> the image it runs: `built_refs[<the built service>]` for a built or
        shared image (a tag, an ID, a digest reference, as the target needs), else the
        upstream reference (left out with `built_only`)."""
        return {
            name: built_refs[service.built_from] if service.built_from else service.upstream_image
            for name, service in self.services.items()
            if service.built_from or not built_only
        }


def _with_overrides(spec: ServiceSpec, settings: Settings, enabled: frozenset[str]) -> ServiceSpec:
    override = settings.service(spec.name)
    return spec.model_copy(
        update={
            "image": (override.image or spec.image) if spec.image is not None else None,
            "resources": spec.resources.model_copy(
                update={
                    "memory": override.memory or spec.resources.memory,
                    "cpu": override.cpu or spec.resources.cpu,
                }
            ),
            "talks_to": tuple(name for name in spec.talks_to if name in enabled),
            "starts_after": tuple(name for name in spec.starts_after if name in enabled),
        }
    )


def _external_peers(spec: ServiceSpec, catalog: Catalog, enabled: frozenset[str]) -> tuple[ExternalPeer, ...]:
    specs = catalog.by_name()
    if all(name in enabled for name in spec.talks_to):
        return ()
    return tuple(
        ExternalPeer(name, port)
        for name in spec.talks_to
        if name not in enabled and catalog.replacement(name) and (port := specs[name].port)
    )


@dataclass(frozen=True)
class _Addresses:
    """Every service's host and port, built once per resolve (not once per template)."""

    hosts: Mapping[str, str]
    ports: Mapping[str, int]

    @classmethod
    def of(cls, catalog: Catalog) -> _Addresses:
        # A service's host name is its name on both targets (Docker network alias,
        # Kubernetes Service in the same namespace).
        return cls(
            hosts={spec.name: spec.name for spec in catalog.services},
            ports={spec.name: spec.port for spec in catalog.services if spec.port},
        )

    def fill(self, template: str) -> str:
        """Hosts and ports filled in; `{secret:…}` left."""
        return render_template(template, self.hosts, self.ports)


def _stack_secret(name: str, catalog: Catalog, enabled: frozenset[str], addresses: _Addresses) -> StackSecret:
    declared = catalog.secrets[name]
    if from_config(declared, enabled):
        return StackSecret(name, config=declared.config)
    if declared.template:
        return StackSecret(name, template=addresses.fill(declared.template))
    return StackSecret(name, generate=declared.generate)


def _clients(specs: Mapping[str, ServiceSpec]) -> dict[str, tuple[str, ...]]:
    """service -> the enabled services that talk to it, in catalog order (one pass)."""
    clients: dict[str, list[str]] = {name: [] for name in specs}
    for spec in specs.values():
        for peer in spec.talks_to:
            clients[peer].append(spec.name)
    return {name: tuple(found) for name, found in clients.items()}


def _port(peer: ServiceSpec) -> int:
    return ensured(peer.port, f"service {peer.name!r}, which others talk to, to have a port (talksTo needs one)")


def _service(spec: ServiceSpec, original: ServiceSpec, context: _Resolving) -> Service:
    name, settings = spec.name, context.settings
    filled = {key: context.addresses.fill(value) for key, value in spec.env.items()}
    secret_keys = set(spec.secret_env_names())
    return Service(
        spec=spec,
        upstream_image=spec.image,
        built_from=spec.image_of or (name if spec.build else None),
        replicas=settings.service(name).replicas,
        published_port=published_port(spec, settings),
        peers={peer: _port(context.specs[peer]) for peer in spec.talks_to},
        clients=context.clients[name],
        external_peers=_external_peers(original, context.catalog, context.enabled),
        depends_on=spec.depends_on,
        routed=name == context.routed,
        plain_env={key: value for key, value in filled.items() if key not in secret_keys},
        secret_env={key: value for key, value in filled.items() if key in secret_keys},
        dev_stage=spec.build is not None and (settings.dev.hot_reload or debugged(spec, settings)),
        debug=spec.debug if debugged(spec, settings) else None,
        debug_port=debug_host_port(spec, settings),
        monitoring_config=context.scrape_config if spec.monitoring is not None else None,
    )


@dataclass(frozen=True)
class _Resolving:
    """What every service's resolution reads, computed once per stack."""

    catalog: Catalog
    settings: Settings
    enabled: frozenset[str]
    specs: Mapping[str, ServiceSpec]  # enabled, with the stack's overrides
    clients: Mapping[str, tuple[str, ...]]
    addresses: _Addresses
    routed: str | None
    scrape_config: str | None  # for the enabled monitoring service


def resolve(catalog: Catalog, settings: Settings) -> ResolvedStack:
    """`resolve_view` of a catalog and settings already validated (tests, tools)."""
    return resolve_view(StackView.of(catalog, settings))


@collection_paused
def resolve_view(view: StackView) -> ResolvedStack:
    """The stack's services and secrets, from the view validation computed (plan/validate.py)."""
    catalog, settings = view.catalog, view.settings
    enabled = view.enabled
    originals = catalog.by_name()
    specs = {name: _with_overrides(originals[name], settings, enabled) for name in originals if name in enabled}
    addresses = _Addresses.of(catalog)
    monitor = next((spec.monitoring for spec in specs.values() if spec.monitoring is not None), None)
    context = _Resolving(
        catalog=catalog,
        settings=settings,
        enabled=enabled,
        specs=specs,
        clients=_clients(specs),
        addresses=addresses,
        routed=view.routed if settings.runs_kubernetes else None,
        scrape_config=scrape_config(settings.stack, monitor, scrape_targets(specs.values(), addresses.hosts))
        if monitor is not None
        else None,
    )
    services = {name: _service(specs[name], originals[name], context) for name in start_order(specs.values())}
    secrets = {name: _stack_secret(name, catalog, enabled, context.addresses) for name in view.secrets_in_use}
    return ResolvedStack(settings=settings, services=services, secrets=secrets)
