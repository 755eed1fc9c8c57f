"""The service catalog's typed models and the graph helpers over them.

The models are catalog.yaml's schema (camelCase keys, unknown keys refused) and the
program's types (snake_case attributes); components/spec/catalog_file.py reads the file through
them and components/spec/catalog_rules.py checks what fields alone cannot. Nothing here knows
a particular service or secret: the reference app is the content of catalog.yaml only.

Env values are templates: `{host:svc}` (the service's network name), `{port:svc}` (its
port) and `{secret:name}` (a declared secret; any variable that uses one is a secret as a
whole).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import TopologicalSorter
from types import MappingProxyType
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from components.core.durations import duration_nanos
from components.core.quantities import check_cpu, check_memory
from components.core.references import PINNED_REFERENCE_PATTERN, image_reference_problem

CATALOG_FILE = "catalog.yaml"
DEFAULT_USER = "1000:1000"
NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"  # a DNS label short enough for derived names
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_CONFIG_KEY = r"^[a-z][A-Za-z0-9]*$"
MAX_ID = 2**31 - 1  # Kubernetes' bound on runAsUser, runAsGroup and fsGroup (int32)
# Text the program passes to a process (env values, arguments): no NUL (execve cannot carry
# one) and short enough that NAME=value stays under Linux's 128 KiB for one string, even at
# four UTF-8 bytes a character.
MAX_TEXT = 32_000
TEXT_PATTERN = r"^[^\x00]*$"
# Canonical absolute paths in the container: one spelling per path (no '.', '..', '//', or
# trailing '/'), not '/' itself, and no ':' (Kubernetes refuses it in a mountPath; Docker
# reads it as the start of mount options).
CONTAINER_PATH_PATTERN = r"^(/(?!\.\.?(/|$))[^/:\x00-\x1f]+)+$"
# A directory inside the project (or inside a build context): relative, no '..' that could
# leave it, no absolute path, no leading '~' (a home directory to a reader), '/' as the separator.
PROJECT_PATH_PATTERN = r"^(\.|(?![.~]\.?(/|$)|~)[^/\\:\x00-\x1f]+(/(?!\.\.?(/|$))[^/\\:\x00-\x1f]+)*)$"
URL_PATH_PATTERN = r"^/[^\s\x00-\x1f]*$"


def _decimal_up_to(limit: int) -> str:
    """A regexp of the whole numbers 1..limit written without leading zeros, so the schema
    bounds an id as the program does (a JSON Schema pattern cannot compare numbers)."""
    digits = str(limit)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]  # fewer digits than the limit
    for index, digit in enumerate(digits):
        low, high = (1 if index == 0 else 0), int(digit) - 1
        if high >= low:  # the limit's first `index` digits, one lower here, anything after
            parts.append(f"{digits[:index]}[{low}-{high}][0-9]{{{len(digits) - index - 1}}}")
    return f"(?:{'|'.join([*parts, digits])})"


_ID = _decimal_up_to(MAX_ID)
USER_PATTERN = f"^{_ID}(:{_ID})?$"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
MEMORY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"
CPU_PATTERN = r"^(?!0+(\.0+)?m?$)([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"  # above 0
REASON_PATTERN = r"^[^\x00]*\S[^\x00]*$"
IMAGE_PATTERN = PINNED_REFERENCE_PATTERN
PATTERN_WORDS = {
    NAME_PATTERN: "must be lower-case letters, digits and '-', starting with a letter (at most 40 characters)",
    _ENV_NAME: "must be an environment variable name: letters, digits and '_', not starting with a digit",
    _CONFIG_KEY: "must be a config key in camelCase: letters and digits, starting with a lower-case letter",
}
MEMORY_FLOOR_BYTES = 6 * 2**20  # as check_memory (Docker refuses a smaller limit)

# Named opt-outs: each weakens one default of principle 3 and carries its reason.
OPT_OUT_UPSTREAM_UID = "upstream-uid"
OPT_OUT_READ_ONLY_ROOT = "read-only-root"
OptOut = Literal["upstream-uid", "read-only-root"]


# --- the template grammar: one definition for the loader, the rules and the renderers ---------

PLACEHOLDER_KINDS = ("host", "port", "secret")
PLACEHOLDER_FORMS = "{host:svc}, {port:svc} or {secret:name}"
_PLACEHOLDER = re.compile(r"\{(host|port|secret):([a-z](?:[a-z0-9-]{0,38}[a-z0-9])?)\}")
# What a reader takes for a placeholder: a brace, a word, a colon, up to the closing brace
# (or the next brace, or the end, when it is not closed). `${VAR:-x}` is the shell's, not
# ours; `{"a": 1}` (JSON) does not start with a word.
_LOOKS_LIKE = re.compile(r"(?<!\$)\{\s*[A-Za-z_][A-Za-z0-9_-]*\s*:[^{}]*\}?")


class Placeholder(NamedTuple):
    kind: str
    name: str


def placeholder_problem(text: str) -> str:
    """Why `text`, which looks like a placeholder, is not one (in the author's terms)."""
    inner = text[1:-1] if text.endswith("}") else text[1:]
    kind, _, name = inner.partition(":")
    if not text.endswith("}"):
        why = "it is not closed with '}'"
    elif inner != inner.strip() or kind != kind.strip() or name != name.strip():
        why = "no spaces inside the braces"
    elif kind.lower() in PLACEHOLDER_KINDS and kind != kind.lower():
        why = "kinds are written in lower case"
    elif kind not in PLACEHOLDER_KINDS:
        why = f"there is no kind '{kind}'"
    else:
        why = f"'{name}' is not a name: lower-case letters, digits and '-', starting with a letter"
    # The spelling it was most likely meant as, when tidying it gives a placeholder.
    tidy = f"{{{kind.strip().lower()}:{name.strip().lower().replace('_', '-')}}}"
    meant = f" ({tidy}?)" if _PLACEHOLDER.fullmatch(tidy) else ""
    return f"{text} is not a placeholder ({why}): write {PLACEHOLDER_FORMS} exactly{meant}"


def template_grammar_problems(value: str) -> list[str]:
    """One sentence per part of `value` that looks like a placeholder and does not parse."""
    return [placeholder_problem(match.group()) for match in _LOOKS_LIKE.finditer(value) if not _PLACEHOLDER.fullmatch(match.group())]


# --- field types: each refuses a wrong value in words the file's author can act on ------------


def _duration(value: str) -> str:
    duration_nanos(value)  # raises ValueError naming the form
    return value


def _image(value: str) -> str:
    if problem := image_reference_problem(value):
        raise ValueError(problem)
    return value


def _user(value: str) -> str:
    """USER_PATTERN, in words for each way to miss it."""
    if not re.fullmatch(r"[0-9]+(:[0-9]+)?", value):
        raise ValueError('must be "uid" or "uid:gid" in numbers, e.g. "1000:1000" (quote it in YAML)')
    parts = value.split(":")
    if any(int(part) == 0 for part in parts):
        # runAsNonRoot: the kubelet refuses to start a container as UID 0; GID 0 is root's group.
        raise ValueError('must not be 0 (root): containers run as a non-root user and group, e.g. "1000:1000"')
    if any(part.startswith("0") for part in parts):
        raise ValueError('must be written without leading zeros, e.g. "1000:1000"')
    if any(int(part) > MAX_ID for part in parts):
        raise ValueError(f"each id must be at most {MAX_ID} (Kubernetes' limit)")
    return value


def _text_or_number(value: Any) -> Any:
    # `CACHE_TTL_SECONDS: 30` is what people write; a boolean would become "True", so quote it.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (bool, float)):
        raise ValueError(f"YAML read {value!r} as {'true/false' if isinstance(value, bool) else 'a number'}: quote it")
    return value


def _process_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("holds a NUL character, which no process can receive: remove it")
    if re.search("[\ud800-\udfff]", value):
        raise ValueError("holds an unpaired UTF-16 surrogate (an escape such as \\ud800): it is not text")
    if len(value) > MAX_TEXT:
        raise ValueError(f"is {len(value):,} characters long; at most {MAX_TEXT:,} (a process gets at most 128 KiB per value)")
    return value


def _cpu_number(value: Any) -> Any:
    # `cpu: 1` and `cpu: 0.5` are quantities too (YAML reads numbers). Finer than a millicore,
    # Kubernetes rounds up to 1m; so does this.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if value > 0 and not math.isclose(value * 1000, round(value * 1000), abs_tol=1e-9):
        return f"{math.ceil(value * 1000)}m"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _memory_number(value: Any) -> Any:
    # `memory: 536870912` is bytes; a fraction of a byte is not a quantity.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        raise ValueError("must be a memory quantity such as 512Mi, or a whole number of bytes")
    return value


def _memory(value: str) -> str:
    check_memory(value)
    return value


def _cpu(value: str) -> str:
    check_cpu(value)
    return value


def _matches(pattern: str, words: str):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(words)
        return value

    return check


def _schema(pattern: str, **extra: Any) -> WithJsonSchema:
    """What an editor checks: the grammar the validator uses, as a JSON Schema pattern."""
    return WithJsonSchema({"type": "string", "pattern": pattern, **extra})


_CONTAINER_PATH_WORDS = (
    "must be an absolute path in the container written once, e.g. /data: no '.', '..', '//',"
    " trailing '/' or ':', and not / itself"
)
_PROJECT_PATH_WORDS = (
    "must be a directory inside the project, relative to its root, e.g. apps/backend:"
    " not absolute, no '..' or leading '~', '/' as the separator"
)
Duration = Annotated[str, AfterValidator(_duration), _schema(DURATION_PATTERN)]
ImageRef = Annotated[str, AfterValidator(_image), _schema(IMAGE_PATTERN)]
User = Annotated[str, AfterValidator(_user), _schema(USER_PATTERN)]
EnvValue = Annotated[
    str, BeforeValidator(_text_or_number), AfterValidator(_process_text),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": TEXT_PATTERN, "maxLength": MAX_TEXT}, {"type": "integer"}]}),
]
Argument = Annotated[str, AfterValidator(_process_text), _schema(TEXT_PATTERN, maxLength=MAX_TEXT)]
MemoryQuantity = Annotated[
    str, BeforeValidator(_memory_number), AfterValidator(_memory),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": MEMORY_PATTERN}, {"type": "integer", "minimum": MEMORY_FLOOR_BYTES}]}),
]
CpuQuantity = Annotated[
    str, BeforeValidator(_cpu_number), AfterValidator(_cpu),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": CPU_PATTERN}, {"type": "number", "exclusiveMinimum": 0}]}),
]
ContainerPath = Annotated[str, AfterValidator(_matches(CONTAINER_PATH_PATTERN, _CONTAINER_PATH_WORDS)), _schema(CONTAINER_PATH_PATTERN)]
ProjectPath = Annotated[str, AfterValidator(_matches(PROJECT_PATH_PATTERN, _PROJECT_PATH_WORDS)), _schema(PROJECT_PATH_PATTERN)]
UrlPath = Annotated[str, AfterValidator(_matches(URL_PATH_PATTERN, "must be a URL path starting with '/', e.g. /healthz")), _schema(URL_PATH_PATTERN)]
Reason = Annotated[
    str, AfterValidator(_process_text),
    AfterValidator(_matches(REASON_PATTERN, "must say why (an opt-out is reviewed by its reason): write the reason")),
    _schema(REASON_PATTERN, maxLength=MAX_TEXT),
]


def _whole(value: Any) -> Any:
    # `port: 80.0` is 80 (and JSON Schema's "integer" says so too); 80.5 stays refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _whole_number(**bounds: int) -> Any:
    # The bounds go inside the before-validator: outside it, pydantic's schema would lose them.
    return Annotated[StrictInt, Field(**bounds), BeforeValidator(_whole)]


Port = _whole_number(ge=1, le=65535)
GroupId = _whole_number(ge=1, le=MAX_ID)
ServiceName = Annotated[str, Field(pattern=NAME_PATTERN)]


class CatalogModel(BaseModel):
    """camelCase keys in the file, snake_case in code; unknown keys refused; immutable.

    Code builds models by field name (populate_by_name); the loader validates the file with
    `by_name=False` (components/spec/catalog_file.py), so a snake_case key in the file is refused,
    as the JSON Schema (camelCase properties only) refuses it in an editor."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Build(CatalogModel):
    """An image built from this repo (see docs/services.md for what its Dockerfile must offer)."""

    context: ProjectPath = Field(description="directory holding the Dockerfile, inside the project, relative to its root")
    base_image: ImageRef = Field(description="default BASE_IMAGE build argument, pinned by tag")
    runtime_base_image: ImageRef | None = Field(None, description="default RUNTIME_BASE_IMAGE (the runtime stage); unset: baseImage")
    target: str = Field("runtime", description="the Dockerfile stage that runs in every environment")
    dev_target: str = Field("dev", description="the stage that runs with dev.hotReload")
    source_dir: ProjectPath = Field("src", description="bind-mounted for hot reload, relative to context")
    source_mount: ContainerPath = Field("/app/src", description="where the dev stage expects sourceDir")


class Health(CatalogModel):
    """How to tell the service is alive and ready: `command` is the exec-form check (Docker,
    and Kubernetes without paths), using a binary that exists in the image; HTTP services
    give paths for the Kubernetes probes."""

    command: tuple[Argument, ...] = Field(min_length=1)
    liveness_path: UrlPath | None = None
    readiness_path: UrlPath | None = None
    # Docker health-check timing, tuned per service from measured start times (bench/stack.py):
    # poll every startInterval while starting, every interval once healthy.
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: _whole_number(ge=1) = 5
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
    command: tuple[Argument, ...] | None = None
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], EnvValue] = Field(default_factory=dict)
    health: Health | None = None
    state: State | None = None
    writable_paths: tuple[ContainerPath, ...] = ("/tmp",)
    talks_to: tuple[str, ...] = Field((), description="network edges: start order, NetworkPolicy ingress/egress")
    starts_after: tuple[str, ...] = Field((), description="one-shot services that must succeed first")
    one_shot: StrictBool = False
    public: StrictBool = Field(False, description="reached from outside: a published port (Docker), the Ingress (Kubernetes)")
    user: User = DEFAULT_USER
    fs_group: GroupId | None = None
    opt_outs: dict[OptOut, Reason] = Field(default_factory=dict, description="named weakenings of the defaults, each with its reason")

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
    length: _whole_number(ge=16, le=128) = 32


class SecretSpec(CatalogModel):
    """A secret env templates name: generated (letters and digits, kept encrypted in the
    stack's state), a template over other secrets and services, or a config secret. With
    an owner, `config` replaces the generated value when the owner is disabled (an external
    service); without generate/template, the config secret is required."""

    owner: str | None = Field(None, description="the service whose value it is; disabling it needs `config`")
    generate: Generate | None = None
    template: Argument | None = None
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


def placeholders(value: str) -> list[Placeholder]:
    """The (kind, name) pairs a template refers to, e.g. [("host", "redis")]. Text that only
    looks like a placeholder is not one: template_grammar_problems refuses it."""
    return [Placeholder(kind, name) for kind, name in _PLACEHOLDER.findall(value)]


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
