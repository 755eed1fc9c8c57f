"""The service catalog: its typed models, read from `catalog.yaml` and checked as a whole.

The models are the file's schema (camelCase keys, unknown keys refused) and the program's
types (snake_case attributes). `load_catalog` reads the file and refuses it with one
`CatalogError` listing every problem, each naming the file, the service and the field as
written there. Nothing here knows a particular service or secret: the reference app is
the content of catalog.yaml only.

Env values are templates: `{host:svc}` (the service's network name), `{port:svc}` (its
port) and `{secret:name}` (a declared secret; any variable that uses one is a secret as a
whole).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pulumi.errors import RunError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError
from pydantic.alias_generators import to_camel

from components.durations import duration_nanos
from components.quantities import check_cpu, check_memory, memory_bytes
from components.references import image_reference_problem
from components.settings import OMITTED, SECRET_KEYS, SETTING_KEYS, Problem

CATALOG_FILE = "catalog.yaml"
SCHEMA_FILE = "catalog.schema.json"
DEFAULT_USER = "1000:1000"
_PLACEHOLDER = re.compile(r"\{(host|port|secret):([a-z0-9-]+)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([a-z]+):([^}]*)\}")
_NAME = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"  # a DNS label short enough for derived names
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_CONFIG_KEY = r"^[a-z][A-Za-z0-9]*$"
_USER = re.compile(r"^[0-9]+(:[0-9]+)?$")
_PATTERN_WORDS = {
    _NAME: "must be lower-case letters, digits and '-', starting with a letter (at most 40 characters)",
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
ServiceName = Annotated[str, Field(pattern=_NAME)]


class _Model(BaseModel):
    """camelCase keys in the file, snake_case in code; unknown keys refused; immutable."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Build(_Model):
    """An image built from this repo (see docs/services.md for what its Dockerfile must offer)."""

    context: str = Field(description="directory holding the Dockerfile, relative to the project root")
    base_image: ImageRef = Field(description="default BASE_IMAGE build argument, pinned by tag")
    runtime_base_image: ImageRef | None = Field(None, description="default RUNTIME_BASE_IMAGE (the runtime stage); unset: baseImage")
    target: str = Field("runtime", description="the Dockerfile stage that runs in every environment")
    dev_target: str = Field("dev", description="the stage that runs with dev.hotReload")
    source_dir: str = Field("src", description="bind-mounted for hot reload, relative to context")
    source_mount: ContainerPath = Field("/app/src", description="where the dev stage expects sourceDir")


class Health(_Model):
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


class Resources(_Model):
    memory: MemoryQuantity = Field(description="limit; the Kubernetes request is half")
    cpu: CpuQuantity = Field(description="limit; the Kubernetes request is half")


class State(_Model):
    """Persistent data: a named volume (Docker) or a PersistentVolumeClaim (Kubernetes)."""

    path: ContainerPath
    size: MemoryQuantity = "1Gi"


class ServiceSpec(_Model):
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


class Generate(_Model):
    length: Annotated[StrictInt, Field(ge=16, le=128)] = 32


class SecretSpec(_Model):
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


class CatalogFile(_Model):
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


class CatalogError(RunError, ValueError):
    """Every problem in the catalog file; Pulumi prints it without a traceback (RunError)."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem.text(f'{source}: ')}" for problem in problems)
        super().__init__(f"the service catalog {source} has {len(problems)} problem(s):\n{lines}")


# --- reading the file -----------------------------------------------------------------------


def _loc(parts: Iterable[Any]) -> str:
    return ".".join(str(part) for part in parts if part != "[key]")


def _model_problems(prefix: tuple, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = _loc((*prefix, *item["loc"]))
        if item["type"] == "extra_forbidden":
            problems.append(Problem(loc, OMITTED, "unknown key (check the spelling)"))
        elif item["type"] == "missing":
            problems.append(Problem(loc, OMITTED, "is required"))
        else:
            problems.append(Problem(loc, item.get("input"), _message(item)))
    return problems


_MESSAGES = {
    "int_type": "must be a whole number, unquoted", "int_parsing": "must be a whole number, unquoted",
    "int_from_float": "must be a whole number", "bool_type": "must be true or false",
    "bool_parsing": "must be true or false", "string_type": "must be text",
    "list_type": "must be a list", "tuple_type": "must be a list", "dict_type": "must be a map",
    "model_type": "must be a map of fields", "model_attributes_type": "must be a map of fields",
}


def _message(item: dict) -> str:
    """A validation error in words (the validators' own wording never reaches the user)."""
    kind, ctx = item["type"], item.get("ctx", {})
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} entr{'y' if ctx['min_length'] == 1 else 'ies'}"
    if kind == "string_pattern_mismatch":
        return _PATTERN_WORDS.get(ctx["pattern"], f"must match {ctx['pattern']}")
    if kind == "literal_error":
        return f"must be one of: {ctx['expected']}"
    return _MESSAGES.get(kind, "is not a valid value here; see catalog.schema.json")


def _parse_entries(section: str, raw: Any, model: type[_Model]) -> tuple[dict[str, Any], list[Problem], set[str]]:
    """Each `name: {fields}` entry of a section through its model: (parsed, problems, the
    names whose entry was refused). The name is the key; it is a DNS label."""
    if raw is None:
        return {}, [], set()
    if not isinstance(raw, Mapping):
        return {}, [Problem(section, OMITTED, "must be a map of name to fields")], set()
    parsed, problems, refused = {}, [], set()
    for name, body in raw.items():
        key = f"{section}.{name}"
        if not isinstance(name, str) or not re.match(_NAME, name):
            problems.append(Problem(key, OMITTED, f"the name {_PATTERN_WORDS[_NAME]}"))
        elif not isinstance(body, Mapping):
            problems.append(Problem(key, body, "must be a map of fields"))
        elif "name" in body:
            problems.append(Problem(f"{key}.name", body["name"], "unknown key: the name is the entry's key"))
        else:
            try:
                parsed[name] = model.model_validate({**body, "name": name} if model is ServiceSpec else body)
                continue
            except ValidationError as error:
                problems += _model_problems((section, name), error)
        refused.add(str(name))
    return parsed, problems, refused


def parse_catalog(raw: Any, source: str = CATALOG_FILE) -> Catalog:
    """A `Catalog` from the file's parsed YAML, or one CatalogError with every problem."""
    if not isinstance(raw, Mapping):
        raise CatalogError(source, [Problem("(top level)", OMITTED, "must be a map with `services` (and `secrets`)")])
    known = [field.alias or name for name, field in CatalogFile.model_fields.items()]
    problems = [Problem(str(key), OMITTED, f"unknown key; known: {', '.join(known)}") for key in raw if key not in known]
    if not raw.get("services"):
        problems.append(Problem("services", OMITTED, "is required: a map of service name to its fields"))
    secrets, secret_problems, _ = _parse_entries("secrets", raw.get("secrets"), SecretSpec)
    services, service_problems, refused = _parse_entries("services", raw.get("services"), ServiceSpec)
    problems += secret_problems + service_problems
    catalog = Catalog(services=tuple(services.values()), secrets=secrets, source=source)
    problems += catalog_problems(catalog, frozenset(refused))
    if problems:
        raise CatalogError(source, problems)
    return catalog


def catalog_path(project_dir: Path) -> Path:
    """The catalog this program reads: catalog.yaml, or the file DOCKYARD_CATALOG names
    (a team's trial copy; the tests run the unit tier against an extended one)."""
    return Path(os.environ.get("DOCKYARD_CATALOG") or project_dir / CATALOG_FILE)


def load_catalog(path: Path) -> Catalog:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CatalogError(str(path), [Problem("(file)", OMITTED, f"cannot be read: {error.strerror}")]) from None
    except yaml.YAMLError as error:
        raise CatalogError(path.name, [Problem("(file)", OMITTED, f"is not valid YAML: {error}")]) from None
    return parse_catalog(raw, path.name)


def catalog_schema() -> dict[str, Any]:
    """The JSON Schema of catalog.yaml (for editors), generated from the models."""
    schema = CatalogFile.model_json_schema(by_alias=True)
    service = ServiceSpec.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    definitions = {**schema.pop("$defs", {}), **service.pop("$defs", {})}
    service["properties"].pop("name")
    service["required"] = [key for key in service["required"] if key != "name"]
    definitions["ServiceSpec"] = service
    schema["properties"]["services"] = {
        "type": "object", "minProperties": 1,
        "propertyNames": {"pattern": _NAME},
        "additionalProperties": {"$ref": "#/$defs/ServiceSpec"},
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "$defs": definitions}


def schema_text() -> str:
    return json.dumps(catalog_schema(), indent=2, sort_keys=True) + "\n"


# --- graph helpers ---------------------------------------------------------------------------


def by_name(catalog: Iterable[ServiceSpec]) -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in catalog}


def built_service_names(catalog: Iterable[ServiceSpec]) -> set[str]:
    return {spec.name for spec in catalog if spec.build is not None}


def placeholders(value: str) -> list[tuple[str, str]]:
    """The (kind, name) pairs a template refers to, e.g. [("host", "redis")]."""
    return _PLACEHOLDER.findall(value)


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


# --- checks of the catalog alone -------------------------------------------------------------


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _shape_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    names = catalog.by_name()
    for spec in catalog.services:
        key = f"services.{spec.name}"
        sources = [spec.image, spec.build, spec.image_of]
        if sum(source is not None for source in sources) != 1:
            problems.append(Problem(key, OMITTED, "needs exactly one of image (upstream), build (this repo), imageOf (a built service's image)"))
        if spec.image_of is not None and spec.image_of not in unparsed and (spec.image_of not in names or names[spec.image_of].build is None):
            problems.append(Problem(f"{key}.imageOf", spec.image_of, f"must name a built service: {_known(built_service_names(catalog.services))}"))
        if spec.long_running and spec.health is None:
            problems.append(Problem(f"{key}.health", OMITTED, "a long-running service needs a health check (or oneShot: true)"))
        if spec.one_shot and (spec.public or spec.state):
            problems.append(Problem(f"{key}.oneShot", True, "a one-shot service is neither public nor stateful"))
        if spec.public and spec.port is None:
            problems.append(Problem(f"{key}.public", True, "a public service needs a port"))
        if spec.health and (spec.health.liveness_path or spec.health.readiness_path) and spec.port is None:
            problems.append(Problem(f"{key}.health", OMITTED, "HTTP probe paths need a port"))
        if spec.state and memory_bytes(spec.state.size) < 2**20:
            problems.append(Problem(f"{key}.state.size", spec.state.size, "must be at least 1Mi, e.g. 1Gi"))
    return problems


def _edge_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    names = catalog.by_name()
    for spec in catalog.services:
        for field_name, targets in (("talksTo", spec.talks_to), ("startsAfter", spec.starts_after)):
            for index, target in enumerate(targets):
                key = f"services.{spec.name}.{field_name}.{index}"
                if target in unparsed:
                    continue
                if target not in names or target == spec.name:
                    problems.append(Problem(key, target, f"must name another service: {_known(set(names) - {spec.name})}"))
                elif field_name == "startsAfter" and not names[target].one_shot:
                    problems.append(Problem(key, target, "must name a one-shot service"))
                elif field_name == "talksTo" and names[target].port is None:
                    # A NetworkPolicy rule without a port would open every port.
                    problems.append(Problem(key, target, f"{target} has no port to talk to; talk to services with a port"))
    return problems


def _cycle_problems(catalog: Catalog) -> list[Problem]:
    graph = {spec.name: set(spec.depends_on) for spec in catalog.services}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return [Problem("services", " -> ".join(error.args[1]), "talksTo and startsAfter must not form a cycle")]
    return []


def _template_problems(
    key: str, value: str, talks_to: Iterable[str] | None, catalog: Catalog, unparsed: frozenset[str],
) -> list[Problem]:
    """Placeholders that name nothing, or a service the owner does not talk to (Kubernetes'
    default-deny NetworkPolicy would block what Docker lets through)."""
    names = catalog.by_name()
    problems, unreached = [], []
    for kind, name in _ANY_PLACEHOLDER.findall(value):
        if kind not in ("host", "port", "secret"):
            problems.append(Problem(key, value, f"{{{kind}:{name}}} is not a placeholder: use {{host:svc}}, {{port:svc}} or {{secret:name}}"))
    for kind, name in secret_references(value, catalog.secrets):
        if name in unparsed:
            continue
        if kind == "secret" and name not in catalog.secrets:
            problems.append(Problem(key, value, f"{{secret:{name}}} names no secret; declared: {_known(catalog.secrets)}"))
        elif kind in ("host", "port") and name not in names:
            problems.append(Problem(key, value, f"{{{kind}:{name}}} names no service; known: {_known(names)}"))
        elif kind == "port" and names[name].port is None:
            problems.append(Problem(key, value, f"{{port:{name}}}: {name} has no port"))
        elif kind in ("host", "port") and talks_to is not None and name not in talks_to:
            unreached.append(name)
    for name in dict.fromkeys(unreached):  # once per service, whether named by host or port
        problems.append(Problem(key, value, f"reaches {name}, which is not in talksTo: add it there (NetworkPolicies allow only talksTo)"))
    return problems


def _secret_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    names = catalog.by_name()
    problems = []
    configs: dict[str, str] = {}
    for name, secret in catalog.secrets.items():
        key = f"secrets.{name}"
        if secret.generate and secret.template:
            problems.append(Problem(key, OMITTED, "takes one of generate and template"))
        if not (secret.generate or secret.template or secret.config):
            problems.append(Problem(key, OMITTED, "needs generate, template or config"))
        if secret.owner is not None and secret.owner not in names and secret.owner not in unparsed:
            problems.append(Problem(f"{key}.owner", secret.owner, f"must name a service: {_known(names)}"))
        if secret.config in (*SECRET_KEYS, *SETTING_KEYS):
            problems.append(Problem(f"{key}.config", secret.config, "is a key of the program's own settings: choose another"))
        elif secret.config in configs:
            problems.append(Problem(f"{key}.config", secret.config, f"is already the config key of secret {configs[secret.config]}"))
        elif secret.config:
            configs[secret.config] = name
        if secret.template:
            problems += _template_problems(f"{key}.template", secret.template, None, catalog, unparsed)
            if ("secret", name) in secret_references(secret.template, catalog.secrets):
                problems.append(Problem(f"{key}.template", secret.template, "must not use itself"))
    return problems


def catalog_problems(catalog: Catalog, unparsed: frozenset[str] = frozenset()) -> list[Problem]:
    """Everything wrong with the catalog on its own (settings are checked in stack_checks).
    `unparsed`: services the file names whose fields were refused; references to them are
    not reported again."""
    problems = (
        _shape_problems(catalog, unparsed) + _edge_problems(catalog, unparsed)
        + _cycle_problems(catalog) + _secret_problems(catalog, unparsed)
    )
    for spec in catalog.services:
        for env_name, value in spec.env.items():
            problems += _template_problems(f"services.{spec.name}.env.{env_name}", value, spec.talks_to, catalog, unparsed)
    return problems
