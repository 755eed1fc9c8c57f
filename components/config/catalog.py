"""The service catalog's typed models and the graph helpers over them.

The models are catalog.yaml's schema (camelCase keys, unknown keys refused) and the
program's types (snake_case attributes); their field types are in catalog_fields.py,
catalog_file.py reads the file through them and catalog_rules.py checks what fields alone
cannot. Nothing here knows a particular service or secret: the reference app is the content
of catalog.yaml only. Env values are templates (templates.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import TopologicalSorter
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool

from components.config.catalog_fields import (
    _CONFIG_KEY,
    _ENV_NAME,
    Argument,
    ContainerPath,
    CpuQuantity,
    Duration,
    EnvValue,
    GroupId,
    ImageRef,
    MemoryQuantity,
    Port,
    ProjectPath,
    Reason,
    Retries,
    SecretLength,
    ServiceName,
    UrlPath,
    User,
)
from components.config.fields import CamelModel
from components.config.templates import placeholders, secret_names
from components.core.quantities import memory_bytes

CATALOG_FILE = "catalog.yaml"
DEFAULT_USER = "1000:1000"


# Writable paths kept in RAM on both targets (a Kubernetes emptyDir of medium Memory, a Docker
# tmpfs): scratch space, counted against the memory limit. The others are disk-backed on
# Kubernetes and count against the container's ephemeral storage.
MEMORY_BACKED_PATHS = ("/tmp",)  # nosec B108 -- a path inside the container (a tmpfs), not the host's /tmp
# What a container writes besides its disk-backed writable paths: its logs, which the kubelet
# rotates at 10Mi x 5 files by default, and what little its read-only root's layer holds.
LOG_ALLOWANCE_BYTES = 128 * 2**20

# Named opt-outs: each weakens one default of principle 3 and carries its reason.
OPT_OUT_READ_ONLY_ROOT = "read-only-root"
OptOut = Literal["upstream-uid", "read-only-root"]


# --- field types: each refuses a wrong value in words the file's author can act on ------------


class CatalogModel(CamelModel):
    """A model of catalog.yaml. Code builds models by field name (populate_by_name); the loader
    validates the file with `by_name=False` (catalog_file.py), so a snake_case key in the file
    is refused, as the JSON Schema (camelCase properties only) refuses it in an editor."""


class Build(CatalogModel):
    """An image built from this repo (see docs/services.md for what its Dockerfile must offer)."""

    context: ProjectPath = Field(
        description="directory holding the Dockerfile, inside the project, relative to its root"
    )
    base_image: ImageRef = Field(description="default BASE_IMAGE build argument, pinned by tag")
    runtime_base_image: ImageRef | None = Field(
        None, description="default RUNTIME_BASE_IMAGE (the runtime stage); unset: baseImage"
    )
    target: str = Field("runtime", description="the Dockerfile stage that runs in every environment")
    dev_target: str = Field("dev", description="the stage that runs with dev.hotReload")
    source_dir: ProjectPath = Field("src", description="bind-mounted for hot reload, relative to context")
    source_mount: ContainerPath = Field("/app/src", description="where the dev stage expects sourceDir")


class Check(CatalogModel):
    """One check, exactly one of: an HTTP GET of `path` on the service's port (200-399 passes),
    or `command` run in the container (exit 0 passes), with a binary that exists in the image."""

    path: UrlPath | None = Field(None, description="HTTP GET on the service's port (Kubernetes httpGet probe)")
    command: tuple[Argument, ...] | None = Field(
        None, min_length=1, description="exec form, run in the container (Docker health check, Kubernetes exec probe)"
    )


class Health(CatalogModel):
    """How to tell the service is alive and ready, each declared once and rendered by both targets:
    `readiness` (it can serve: the Docker health check that gates what starts after it, the
    Kubernetes readiness probe that gates its Service's endpoints) and `liveness` (its own process
    only, never a dependency: the Kubernetes liveness and startup probes, which restart it).
    A check by `path` runs in the container as `client` + [path] where no prober sends HTTP (Docker)."""

    readiness: Check = Field(description="it can serve: Docker's health check, Kubernetes' readiness probe")
    liveness: Check | None = Field(
        None,
        description="its own process only (a dependency's outage must not restart it): Kubernetes' liveness and "
        "startup probes; unset: no liveness probe (the kubelet restarts it only when it exits)",
    )
    client: tuple[Argument, ...] | None = Field(
        None,
        min_length=1,
        description="the image's HTTP client in exec form: a check by path runs as client + [path] in the "
        "container (Docker's health check)",
    )
    # Health-check timing, tuned per service from measured start times (bench/stack.py). Docker
    # polls every startInterval while starting, every interval once healthy; Kubernetes derives
    # its probes' timeouts and the startup probe's budget from the same values (targets/kubernetes/pod.py).
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: Retries = 5
    start_period: Duration = "30s"
    start_interval: Duration = "2s"

    @property
    def command(self) -> tuple[str, ...]:
        """The container's own health check in exec form (Docker, compose): the readiness check."""
        return container_command(self, self.readiness)

    @property
    def liveness_path(self) -> str | None:
        return self.liveness.path if self.liveness else None

    @property
    def readiness_path(self) -> str | None:
        return self.readiness.path


def container_command(health: Health, check: Check) -> tuple[str, ...]:
    """`check` run inside the container: its command, or the image's HTTP client with its path
    (the catalog's rules make sure a check by path has a client)."""
    if check.command is not None:
        return check.command
    return (*(health.client or ()), check.path or "")


class Resources(CatalogModel):
    memory: MemoryQuantity = Field(description="limit; the Kubernetes request is half")
    cpu: CpuQuantity = Field(description="limit; the Kubernetes request is half")
    ephemeral_storage: MemoryQuantity | None = Field(
        None,
        description="Kubernetes ephemeral-storage limit (its logs, writable layer and disk-backed writablePaths); "
        "the request is half; unset: the disk-backed writablePaths' total + 128Mi for logs",
    )


class State(CatalogModel):
    """Persistent data: a named volume (Docker) or a PersistentVolumeClaim (Kubernetes)."""

    path: ContainerPath
    size: MemoryQuantity = "1Gi"


class Debug(CatalogModel):
    """How the service's dev stage runs under a debugger (dev.debug): the command that starts it
    so, and the port the debugger listens on (in the container, on all its interfaces)."""

    port: Port = Field(description="the debugger's port in the container; published on 127.0.0.1 (debugHostPort)")
    command: tuple[Argument, ...] = Field(
        min_length=1, description="exec form: the dev stage's server started under the debugger, listening on port"
    )


class Metrics(CatalogModel):
    """Where the service serves Prometheus metrics: scraped by the catalog's monitoring service
    (dev.monitoring), and the prometheus.io/* pod annotations on Kubernetes."""

    path: UrlPath = Field("/metrics", description="the HTTP path of the metrics")
    port: Port | None = Field(None, description="the port serving them; unset: the service's port")


class Monitoring(CatalogModel):
    """The service that scrapes the others (a Prometheus): runs only with dev.monitoring, with
    a scrape config the program generates from every enabled service's `metrics`."""

    config_file: ContainerPath = Field(
        "/etc/prometheus/prometheus.yml", description="where the image reads its config; the program writes it there"
    )
    scrape_interval: Duration = Field("15s", description="how often each target is scraped")


class ServiceSpec(CatalogModel):
    """One workload. Exactly one of image, build, imageOf says where its image comes from."""

    name: ServiceName = Field(description="the key in `services` (set by the loader)")
    resources: Resources
    image: ImageRef | None = Field(None, description="an upstream image pinned by tag or digest")
    build: Build | None = Field(None, description="or built from this repo")
    image_of: str | None = Field(None, description="or the image another (built) service builds, e.g. a worker")
    port: Port | None = None
    command: tuple[Argument, ...] | None = None  # replaces the image's CMD, keeps its ENTRYPOINT (Kubernetes: args)
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], EnvValue] = Field(default_factory=dict)
    health: Health | None = None
    state: State | None = None
    writable_paths: tuple[ContainerPath, ...] = ("/tmp",)  # nosec B108 -- a path inside the container (a tmpfs), not the host's /tmp
    writable_size: MemoryQuantity = Field(
        "64Mi",
        description="the size of each writablePaths mount: its emptyDir's sizeLimit (Kubernetes), its tmpfs size (Docker)",
    )
    talks_to: tuple[str, ...] = Field((), description="network edges: start order, NetworkPolicy ingress/egress")
    starts_after: tuple[str, ...] = Field((), description="one-shot services that must succeed first")
    one_shot: StrictBool = False
    public: StrictBool = Field(
        False, description="reached from outside: a published port (Docker), the Ingress (Kubernetes)"
    )
    user: User = DEFAULT_USER
    fs_group: GroupId | None = None
    opt_outs: dict[OptOut, Reason] = Field(
        default_factory=dict, description="named weakenings of the defaults, each with its reason"
    )
    debug: Debug | None = Field(None, description="dev.debug runs the dev stage under this debugger")
    metrics: Metrics | None = Field(None, description="Prometheus metrics it serves")
    monitoring: Monitoring | None = Field(None, description="this service scrapes the others' metrics (dev.monitoring)")

    @property
    def metrics_port(self) -> int | None:
        return (self.metrics.port or self.port) if self.metrics else None

    @property
    def disk_backed_paths(self) -> tuple[str, ...]:
        return tuple(path for path in self.writable_paths if path not in MEMORY_BACKED_PATHS)

    @property
    def ephemeral_storage(self) -> str:
        """The container's ephemeral-storage limit: the catalog's, else room for every disk-backed
        writable path at its size and for the logs."""
        if self.resources.ephemeral_storage is not None:
            return self.resources.ephemeral_storage
        total = len(self.disk_backed_paths) * memory_bytes(self.writable_size) + LOG_ALLOWANCE_BYTES
        return f"{total // 2**20}Mi" if total % 2**20 == 0 else str(total)

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.talks_to + self.starts_after

    @property
    def long_running(self) -> bool:
        return not self.one_shot

    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if secret_names(value))

    def plain_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if not secret_names(value))


class Generate(CatalogModel):
    length: SecretLength = 32


class SecretSpec(CatalogModel):
    """A secret env templates name: generated (letters and digits, kept encrypted in the
    stack's state), a template over other secrets and services, or a config secret. With
    an owner, `config` replaces the generated value when the owner is disabled (an external
    service); without generate/template, the config secret is required."""

    owner: str | None = Field(None, description="the service whose value it is; disabling it needs `config`")
    generate: Generate | None = None
    template: Argument | None = None
    config: Annotated[str, Field(pattern=_CONFIG_KEY)] | None = Field(
        None,
        description="the dockyard:<key> config secret (pulumi config set --secret <key> …)",
    )


class CatalogFile(CatalogModel):
    """catalog.yaml as a whole."""

    secrets: dict[ServiceName, SecretSpec] = Field(default_factory=dict)
    services: dict[str, dict[str, Any]] = Field(min_length=1)  # each validated as a ServiceSpec


@dataclass(frozen=True)
class Catalog:
    services: tuple[ServiceSpec, ...]
    secrets: Mapping[str, SecretSpec] = field(default_factory=dict)
    source: str = CATALOG_FILE  # the file it was read from, for messages

    # Indexes built once per catalog (a frozen dataclass may cache: cached_property writes the
    # instance dict directly): rules and resolve() look services up per env value, so
    # rebuilding them per lookup made a 10,000-service catalog quadratic.
    @cached_property
    def _by_name(self) -> Mapping[str, ServiceSpec]:
        return MappingProxyType(by_name(self.services))

    @cached_property
    def _replacements(self) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for secret in self.secrets.values():
            if secret.owner is not None and secret.config and (secret.generate or secret.template):
                found.setdefault(secret.owner, secret.config)
        return MappingProxyType(found)

    def by_name(self) -> Mapping[str, ServiceSpec]:
        return self._by_name

    def config_secret_keys(self) -> tuple[str, ...]:
        return tuple(spec.config for spec in self.secrets.values() if spec.config)

    def replacement(self, service: str) -> str | None:
        """The config secret that stands in for `service` when it is disabled (external)."""
        return self._replacements.get(service)


# --- graph helpers ---------------------------------------------------------------------------


def by_name(catalog: Iterable[ServiceSpec]) -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in catalog}


def built_service_names(catalog: Iterable[ServiceSpec]) -> set[str]:
    return {spec.name for spec in catalog if spec.build is not None}


def monitoring_service_names(catalog: Iterable[ServiceSpec]) -> set[str]:
    """The services that scrape the others: enabled by dev.monitoring, not services.<name>.enabled."""
    return {spec.name for spec in catalog if spec.monitoring is not None}


def start_order(catalog: Iterable[ServiceSpec]) -> list[str]:
    """Service names, dependencies first (stable: catalog order among peers)."""
    specs = list(catalog)
    sorter = TopologicalSorter({spec.name: set(spec.depends_on) for spec in specs})
    position = {spec.name: index for index, spec in enumerate(specs)}
    order: list[str] = []
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def secret_references(value: str, secrets: Mapping[str, SecretSpec]) -> list[tuple[str, str]]:
    """The placeholders of `value` and, through each `{secret:x}` template, of the secrets it
    uses: what the value needs to reach. Unknown secrets and cycles are left to the checks."""
    found, pending, seen = [], [value], set()
    while pending:
        for kind, name in placeholders(pending.pop()):
            found.append((kind, name))
            if kind == "secret" and name not in seen and name in secrets and (template := secrets[name].template):
                seen.add(name)
                pending.append(template)
    return found
