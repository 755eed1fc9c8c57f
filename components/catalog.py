"""The service catalog's typed models and the graph helpers over them.

The models are catalog.yaml's schema (camelCase keys, unknown keys refused) and the
program's types (snake_case attributes); components/catalog_file.py reads the file through
them and components/catalog_checks.py checks what fields alone cannot. Nothing here knows
a particular service or secret: the reference app is the content of catalog.yaml only.

Env values are templates: `{host:svc}` (the service's network name), `{port:svc}` (its
port) and `{secret:name}` (a declared secret; any variable that uses one is a secret as a
whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic.alias_generators import to_camel

from components.durations import duration_nanos
from components.quantities import check_cpu, check_memory
from components.references import image_reference_problem

CATALOG_FILE = "catalog.yaml"
DEFAULT_USER = "1000:1000"
_PLACEHOLDER = re.compile(r"\{(host|port|secret):([a-z0-9-]+)\}")
ANY_PLACEHOLDER = re.compile(r"\{([a-z]+):([^}]*)\}")
NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"  # a DNS label short enough for derived names
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_CONFIG_KEY = r"^[a-z][A-Za-z0-9]*$"
_USER = re.compile(r"^[0-9]+(:[0-9]+)?$")
PATTERN_WORDS = {
    NAME_PATTERN: "must be lower-case letters, digits and '-', starting with a letter (at most 40 characters)",
    _ENV_NAME: "must be an environment variable name: letters, digits and '_', not starting with a digit",
    _CONFIG_KEY: "must be a config key in camelCase: letters and digits, starting with a lower-case letter",
}

# Named opt-outs: each weakens one default of principle 3 and carries its reason.
OPT_OUT_UPSTREAM_UID = "upstream-uid"
OPT_OUT_READ_ONLY_ROOT = "read-only-root"
OptOut = Literal["upstream-uid", "read-only-root"]


# --- field types: each refuses a wrong value in words the file's author can act on ------------


def _duration(value: str) -> str:
    duration_nanos(value)  # raises ValueError naming the form
    return value


def _image(value: str) -> str:
    if problem := image_reference_problem(value):
        raise ValueError(problem)
    return value


def _user(value: str) -> str:
    if not _USER.match(value):
        raise ValueError('must be "uid" or "uid:gid" in numbers, e.g. "1000:1000" (quote it in YAML)')
    return value


def _text_or_number(value: Any) -> Any:
    # `CACHE_TTL_SECONDS: 30` is what people write; a boolean would become "True", so quote it.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (bool, float)):
        raise ValueError(f"YAML read {value!r} as {'true/false' if isinstance(value, bool) else 'a number'}: quote it")
    return value


def _quantity(value: Any) -> Any:
    # `cpu: 1` is a quantity too; YAML reads it as a number.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return value


def _memory(value: str) -> str:
    check_memory(value)
    return value


def _cpu(value: str) -> str:
    check_cpu(value)
    return value


def _path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path in the container, e.g. /data")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
ImageRef = Annotated[str, AfterValidator(_image)]
User = Annotated[str, AfterValidator(_user)]
EnvValue = Annotated[str, BeforeValidator(_text_or_number)]
MemoryQuantity = Annotated[str, BeforeValidator(_quantity), AfterValidator(_memory)]
CpuQuantity = Annotated[str, BeforeValidator(_quantity), AfterValidator(_cpu)]
ContainerPath = Annotated[str, AfterValidator(_path)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
ServiceName = Annotated[str, Field(pattern=NAME_PATTERN)]


class CatalogModel(BaseModel):
    """camelCase keys in the file, snake_case in code; unknown keys refused; immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Build(CatalogModel):
    """An image built from this repo (see docs/services.md for what its Dockerfile must offer)."""

    context: str = Field(description="directory holding the Dockerfile, relative to the project root")
    base_image: ImageRef = Field(description="default BASE_IMAGE build argument, pinned by tag")
    runtime_base_image: ImageRef | None = Field(None, description="default RUNTIME_BASE_IMAGE (the runtime stage); unset: baseImage")
    target: str = Field("runtime", description="the Dockerfile stage that runs in every environment")
    dev_target: str = Field("dev", description="the stage that runs with dev.hotReload")
    source_dir: str = Field("src", description="bind-mounted for hot reload, relative to context")
    source_mount: ContainerPath = Field("/app/src", description="where the dev stage expects sourceDir")


class Health(CatalogModel):
    """How to tell the service is alive and ready: `command` is the exec-form check (Docker,
    and Kubernetes without paths), using a binary that exists in the image; HTTP services
    give paths for the Kubernetes probes."""

    command: tuple[str, ...] = Field(min_length=1)
    liveness_path: str | None = None
    readiness_path: str | None = None
    # Docker health-check timing, tuned per service from measured start times (bench/stack.py):
    # poll every startInterval while starting, every interval once healthy.
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: Annotated[StrictInt, Field(ge=1)] = 5
    start_period: Duration = "30s"
    start_interval: Duration = "2s"


class Resources(CatalogModel):
    memory: MemoryQuantity = Field(description="limit; the Kubernetes request is half")
    cpu: CpuQuantity = Field(description="limit; the Kubernetes request is half")


class State(CatalogModel):
    """Persistent data: a named volume (Docker) or a PersistentVolumeClaim (Kubernetes)."""

    path: ContainerPath
    size: MemoryQuantity = "1Gi"


class ServiceSpec(CatalogModel):
    """One workload. Exactly one of image, build, imageOf says where its image comes from."""

    name: ServiceName = Field(description="the key in `services` (set by the loader)")
    resources: Resources
    image: ImageRef | None = Field(None, description="an upstream image pinned by tag or digest")
    build: Build | None = Field(None, description="or built from this repo")
    image_of: str | None = Field(None, description="or the image another (built) service builds, e.g. a worker")
    port: Port | None = None
    command: tuple[str, ...] | None = None
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], EnvValue] = Field(default_factory=dict)
    health: Health | None = None
    state: State | None = None
    writable_paths: tuple[ContainerPath, ...] = ("/tmp",)
    talks_to: tuple[str, ...] = Field((), description="network edges: start order, NetworkPolicy ingress/egress")
    starts_after: tuple[str, ...] = Field((), description="one-shot services that must succeed first")
    one_shot: bool = False
    public: bool = Field(False, description="reached from outside: a published port (Docker), the Ingress (Kubernetes)")
    user: User = DEFAULT_USER
    fs_group: Annotated[StrictInt, Field(ge=0)] | None = None
    opt_outs: dict[OptOut, str] = Field(default_factory=dict, description="named weakenings of the defaults, each with its reason")

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.talks_to + self.starts_after

    @property
    def long_running(self) -> bool:
        return not self.one_shot

    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if "{secret:" in value)

    def plain_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if "{secret:" not in value)


class Generate(CatalogModel):
    length: Annotated[StrictInt, Field(ge=16, le=128)] = 32


class SecretSpec(CatalogModel):
    """A secret env templates name: generated (letters and digits, kept encrypted in the
    stack's state), a template over other secrets and services, or a config secret. With
    an owner, `config` replaces the generated value when the owner is disabled (an external
    service); without generate/template, the config secret is required."""

    owner: str | None = Field(None, description="the service whose value it is; disabling it needs `config`")
    generate: Generate | None = None
    template: str | None = None
    config: Annotated[str, Field(pattern=_CONFIG_KEY)] | None = Field(
        None, description="the dockyard:<key> config secret (pulumi config set --secret <key> …)",
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

    def by_name(self) -> dict[str, ServiceSpec]:
        return by_name(self.services)

    def config_secret_keys(self) -> tuple[str, ...]:
        return tuple(spec.config for spec in self.secrets.values() if spec.config)

    def replacement(self, service: str) -> str | None:
        """The config secret that stands in for `service` when it is disabled (external)."""
        return next(
            (s.config for s in self.secrets.values() if s.owner == service and s.config and (s.generate or s.template)),
            None,
        )


# --- graph helpers ---------------------------------------------------------------------------


def by_name(catalog: Iterable[ServiceSpec]) -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in catalog}


def built_service_names(catalog: Iterable[ServiceSpec]) -> set[str]:
    return {spec.name for spec in catalog if spec.build is not None}


def placeholders(value: str) -> list[tuple[str, str]]:
    """The (kind, name) pairs a template refers to, e.g. [("host", "redis")]."""
    return _PLACEHOLDER.findall(value)


def secret_names(value: str) -> list[str]:
    """The secrets a template names, in order: `{secret:a}…{secret:b}` -> ["a", "b"]."""
    return [name for kind, name in placeholders(value) if kind == "secret"]


def render_template(value: str, hosts: Mapping[str, str], ports: Mapping[str, int]) -> str:
    """Fill `{host:…}` and `{port:…}`; `{secret:…}` is left for the caller (it is an Output)."""

    def fill(match: re.Match) -> str:
        kind, name = match.groups()
        if kind == "host":
            return hosts[name]
        if kind == "port":
            return str(ports[name])
        return match.group(0)

    return _PLACEHOLDER.sub(fill, value)


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


def talks_to_edges(catalog: Iterable[ServiceSpec]) -> set[tuple[str, str]]:
    """(client, server) pairs: exactly the network paths the catalog declares."""
    return {(spec.name, server) for spec in catalog for server in spec.talks_to}


def secret_references(value: str, secrets: Mapping[str, SecretSpec]) -> list[tuple[str, str]]:
    """The placeholders of `value` and, through each `{secret:x}` template, of the secrets it
    uses: what the value needs to reach. Unknown secrets and cycles are left to the checks."""
    found, pending, seen = [], [value], set()
    while pending:
        for kind, name in placeholders(pending.pop()):
            found.append((kind, name))
            if kind == "secret" and name not in seen and name in secrets and secrets[name].template:
                seen.add(name)
                pending.append(secrets[name].template)
    return found
