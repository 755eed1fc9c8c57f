"""Typed stack settings: one model read from the `dockyard:` config namespace,
validated as a whole before any resource is registered.

Each section is parsed on its own and the cross-section rules run on whatever
parsed, so one `SettingsError` lists every problem at once, each naming the
stack, the key, the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from pulumi.errors import RunError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from components.core.quantities import check_cpu, check_memory
from components.core.references import (
    TAG,
    image_reference_problem,
    ingress_host_problem,
    label_problem,
    object_name_problem,
    qualified_stack_problem,
    registry_problem,
)

NAMESPACE = "dockyard"  # the config namespace, which is also the project's name
PROJECT = NAMESPACE

_BUILDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class StackKind(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Target(str, Enum):
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class Platform(str, Enum):
    LINUX_AMD64 = "linux/amd64"
    LINUX_ARM64 = "linux/arm64"


def _yaml_hint(value: Any) -> str:
    kind = "true/false" if isinstance(value, bool) else "a number"
    return f"YAML read the value as {kind} ({value!r}): quote it in the stack file, e.g. \"{value}\""


# --- scalar types: each refuses a value of the wrong YAML type in words, so no validator
# internals ("Input should be …") ever reach a message --------------------------------------


def _flag(value: Any) -> bool:
    # `pulumi config set --path k true` stores the text "true": take it as the boolean.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _whole_number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def _text(value: Any) -> str:
    if isinstance(value, (bool, int, float)):
        raise ValueError(f"must be text; {_yaml_hint(value)}")
    if not isinstance(value, str):
        raise ValueError("must be text (a single value, not a list or map)")
    return value


def _quantity(value: Any) -> str:
    # `cpu: 1` or `memory: 1073741824` are quantities too; YAML reads them as numbers.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return _text(value)


Flag = Annotated[bool, BeforeValidator(_flag)]
Count = Annotated[int, BeforeValidator(_whole_number)]
Text = Annotated[str, BeforeValidator(_text)]
Quantity = Annotated[str, BeforeValidator(_quantity)]


class _Section(BaseModel):
    """Config sections use camelCase keys, reject unknown keys (typos) and are immutable."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    @classmethod
    def known_keys(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items()]


def _check_port(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _platforms(value: Any) -> tuple[Platform, ...]:
    allowed = ", ".join(platform.value for platform in Platform)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"must be a list of at least one platform: {allowed}")
    try:
        return tuple(Platform(item) for item in items)
    except ValueError:
        raise ValueError(f"must be a list of platforms from: {allowed}") from None


def _base_images(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a map of built service to base image, e.g. backend: mirror.local/python:3.13-slim")
    return {str(service): _text(image) for service, image in value.items()}


class ImageSettings(_Section):
    """How images are built, tagged and pushed."""

    registry: Text = ""
    registry_username: Text = ""
    push: Flag = False
    tag: Text = "dev"
    platforms: Annotated[tuple[Platform, ...], BeforeValidator(_platforms)] = (Platform.LINUX_AMD64,)
    builder: Text = ""
    build_on_preview: Flag = False
    ca_bundle: Text = ""
    source_url: Text = ""
    base_images: Annotated[dict[str, str], BeforeValidator(_base_images)] = Field(default_factory=dict)
    runtime_base_images: Annotated[dict[str, str], BeforeValidator(_base_images)] = Field(default_factory=dict)

    @field_validator("tag")
    @classmethod
    def _tag_shape(cls, value: str) -> str:
        if value and not TAG.match(value):
            raise ValueError(
                "must be a Docker tag: letters, digits, '_', '.', '-' (not first), at most 128 characters"
            )
        return value


class ServiceSettings(_Section):
    """Per-stack overrides of one catalog service."""

    enabled: Flag = True
    image: Text | None = None
    replicas: Count = 1
    memory: Quantity | None = None
    cpu: Quantity | None = None
    host_port: Count | None = None

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be a whole number of at least 1")
        return value

    _memory = field_validator("memory")(classmethod(lambda cls, v: check_memory(v)))
    _cpu = field_validator("cpu")(classmethod(lambda cls, v: check_cpu(v)))
    _port = field_validator("host_port")(classmethod(lambda cls, v: _check_port(v)))


class DevSettings(_Section):
    """Laptop conveniences; only allowed on the dev stack."""

    hot_reload: Flag = False
    publish_databases: Flag = False


class IngressSettings(_Section):
    class_name: Text = "nginx"
    host: Text = "dockyard.localhost"
    tls_secret: Text = ""
    # The one public service the Ingress routes `/` to; the others stay in-cluster. Unset:
    # the catalog's only public service (with several, the stack names one).
    service: Text = ""


class KubernetesSettings(_Section):
    """Where and how the Kubernetes environment is deployed."""

    enabled: Flag = False
    context: Text = ""
    namespace: Text = "dockyard"
    render_yaml_to_directory: Text = ""
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    storage_class: Text = ""
    # The namespace the ingress controller runs in (NetworkPolicy lets it reach the
    # Ingress's service; matched on the kubernetes.io/metadata.name label).
    ingress_namespace: Text = "ingress-nginx"
    # Where an external database lives (egress on its port). 0.0.0.0/0 because a managed
    # database's address is usually not fixed; narrow it when it is.
    external_database_cidr: Text = "0.0.0.0/0"

    @field_validator("namespace", "ingress_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        problem = label_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("external_database_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("must be a CIDR block with no host bits set, such as 10.20.0.0/16 or 0.0.0.0/0") from None
        return value


class PromotionSettings(_Section):
    """Where production takes its image digests from."""

    from_stack: Text = ""


@dataclass(frozen=True)
class Settings:
    """The validated settings of one stack."""

    stack: str
    kind: StackKind
    target: Target
    images: ImageSettings
    services: Mapping[str, ServiceSettings]
    dev: DevSettings
    kubernetes: KubernetesSettings
    promotion: PromotionSettings

    def service(self, name: str) -> ServiceSettings:
        return self.services.get(name, ServiceSettings())

    @property
    def builds_images(self) -> bool:
        return self.kind is not StackKind.PROD

    @property
    def runs_docker(self) -> bool:
        return self.target is Target.DOCKER

    @property
    def runs_kubernetes(self) -> bool:
        return self.target is Target.KUBERNETES or self.kubernetes.enabled


# --- problems --------------------------------------------------------------------------------


class _Unshown:
    """A value a message must not print: a secret, or the value of a misspelt key (which
    may be a secret under the wrong name)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


OMITTED = _Unshown("")
HIDDEN = _Unshown("(value not shown)")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _bounded_repr() -> reprlib.Repr:
    # A value may be anything a file holds, alias-expanded lists and megabyte strings
    # included: a message shows its start and end, never all of it.
    bounded = reprlib.Repr()
    bounded.maxstring, bounded.maxother, bounded.maxlong = SHOWN_CHARACTERS, SHOWN_CHARACTERS, 40
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxdict = 4
    bounded.maxlevel = 2
    return bounded


SHOWN_CHARACTERS = 160
_REPR = _bounded_repr()


def shown(value: Any) -> str:
    """The value as a message prints it, spelt as in the YAML stack file (true, not
    True), at most about SHOWN_CHARACTERS long; credentials in a URL are masked."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "(not set)"
    text = _REPR.repr(value)
    if len(text) > SHOWN_CHARACTERS:  # nested containers: reprlib bounds each level, not the sum
        text = f"{text[:SHOWN_CHARACTERS]}…"
    return _URL_CREDENTIALS.sub("***@", text) if isinstance(value, str) else text


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return self.text(f"{NAMESPACE}:")

    def text(self, prefix: str) -> str:
        """`<prefix><key> = <value>: <what is allowed>`; the prefix names where the key is."""
        if self.value is OMITTED:
            return f"{prefix}{self.key}: {self.allowed}"
        return f"{prefix}{self.key} = {shown(self.value)}: {self.allowed}"


class SettingsError(RunError, ValueError):
    """Every problem found in a stack's settings, in one message. A RunError: Pulumi prints
    the message alone, without a traceback."""

    def __init__(self, stack: str, problems: list[Problem]):
        self.stack = stack
        self.problems = problems
        lines = problem_lines(problems, f"{NAMESPACE}:")
        super().__init__(
            f"stack '{stack}' has {len(problems)} invalid setting(s) in Pulumi.{stack}.yaml:\n{lines}"
        )


def distinct_problems(problems: list[Problem]) -> list[Problem]:
    """One problem per key: a value refused while parsing falls back to its default, and
    a later rule must not then report that default (or anything under the same key)."""
    kept: list[Problem] = []
    keys: set[str] = set()
    for problem in problems:
        # The key and each key above it (a.b.c -> a, a.b, a.b.c): linear in the problems.
        parts = problem.key.split(".")
        if not any(".".join(parts[:end]) in keys for end in range(1, len(parts) + 1)):
            kept.append(problem)
            keys.add(problem.key)
    return kept


MAX_LISTED_PROBLEMS = 20  # a screenful


def problem_lines(problems: list[Problem], prefix: str) -> str:
    """The problems as message lines, at most MAX_LISTED_PROBLEMS and a count of the rest."""
    lines = [f"  - {problem.text(prefix)}" for problem in problems[:MAX_LISTED_PROBLEMS]]
    rest = len(problems) - MAX_LISTED_PROBLEMS
    if rest > 0:
        lines.append(f"  … and {rest:,} more: fix these and run again to see the rest")
    return "\n".join(lines)


# The program's own config secrets; the catalog declares the apps' (see catalog.yaml).
SECRET_KEYS = ("registryPassword",)
SETTING_KEYS = ("kind", "target", "images", "services", "dev", "kubernetes", "promotion")


# --- parsing: every section on its own, a refused value replaced by its default --------------


def _enum_problem(key: str, value: Any, enum: type[Enum]) -> Problem:
    allowed = ", ".join(member.value for member in enum)
    return Problem(key, value, f"must be one of: {allowed}")


def _parse_enum(raw: Mapping[str, Any], key: str, enum: type[Enum], default: Any, problems: list[Problem]):
    value = raw.get(key, default)
    try:
        return enum(value)
    except (ValueError, TypeError):
        problems.append(_enum_problem(key, value, enum))
        return None


def _field_model(model: type[_Section], loc: tuple) -> type[_Section]:
    """The section model that owns the last key of `loc` (nested sections: ingress)."""
    for part in loc[:-1]:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, _Section)):
            break
        model = annotation
    return model


def _message(item: dict, model: type[_Section]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        known = ", ".join(_field_model(model, item["loc"]).known_keys())
        return f"unknown key (check the spelling); known: {known}"
    if kind in ("value_error", "assertion_error"):
        return str(item["ctx"]["error"]) if "error" in item.get("ctx", {}) else item["msg"]
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        known = ", ".join(_field_model(model, (*item["loc"], "")).known_keys())
        return f"must be a map of settings; known keys: {known}"
    return "is not a valid value here; see the README's configuration reference"


def _without(data: dict, loc: tuple) -> dict:
    """`data` without the value at `loc` (so the section parses with that key's default)."""
    if not loc or loc[0] not in data:
        return data
    rest = {k: v for k, v in data.items() if k != loc[0]}
    inner = data[loc[0]]
    if len(loc) > 1 and isinstance(inner, Mapping) and loc[1] in inner:
        rest[loc[0]] = _without(dict(inner), loc[1:])
    return rest


def _parse_section(value: Any, key: str, model: type[_Section], problems: list[Problem]) -> _Section:
    """The section, with each refused value reported and replaced by its default."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        problems.append(Problem(key, value, f"must be a map of settings; known keys: {', '.join(model.known_keys())}"))
        return model()
    data = dict(value)
    while True:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            before = data
            for item in error.errors():
                loc = tuple(str(part) for part in item["loc"])
                shown_value = OMITTED if item["type"] == "extra_forbidden" else item.get("input")
                problems.append(Problem(".".join([key, *loc]), shown_value, _message(item, model)))
                data = _without(data, loc)
            if data == before:  # nothing left to take out: defaults for the whole section
                return model()


def _parse_services(section: Any, known: set[str], problems: list[Problem]) -> dict[str, ServiceSettings]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(Problem("services", section, "must be a map of service name to settings"))
        return {}
    services = {}
    for name, value in section.items():
        if name not in known:
            problems.append(Problem(f"services.{name}", OMITTED, f"unknown service; known: {', '.join(sorted(known))}"))
            continue
        services[name] = _parse_section(value, f"services.{name}", ServiceSettings, problems)
    return services


def _unknown_key_problems(raw: Mapping[str, Any], secret_keys: tuple[str, ...]) -> list[Problem]:
    # Secrets are read separately as Pulumi secrets; they reach this raw map only when
    # written in plain text, which is refused.
    known = (*SETTING_KEYS, *secret_keys)
    return [
        Problem(key, OMITTED, f"unknown key; known: {', '.join(known)}")
        for key in raw
        if key not in known
    ]


def _plain_secret_problems(raw: Mapping[str, Any], secret_keys: tuple[str, ...]) -> list[Problem]:
    """Secrets reach this map only when the stack file holds them in plain text."""
    return [
        Problem(key, HIDDEN, (
            f"a secret must not be stored in plain text: run `pulumi config set --secret {key}` "
            "(it replaces the plain entry with an encrypted one), and rotate the value if the file was shared"
        ))
        for key in secret_keys
        if key in raw
    ]


def _kind_problems(stack: str, raw: Mapping[str, Any], kind: StackKind | None) -> list[Problem]:
    """A stack named after a kind is of that kind; any other name says which it is."""
    kinds = ", ".join(k.value for k in StackKind)
    if stack in {k.value for k in StackKind}:
        if kind is not None and kind.value != stack:
            return [Problem("kind", kind.value, (
                f"the stack named '{stack}' is of kind {stack}; a second {kind.value} environment needs a stack"
                f" of its own name (e.g. '{kind.value}-eu') with kind {kind.value}"
            ))]
        return []
    if "kind" not in raw:
        return [Problem("kind", None, f"stack '{stack}' is not named after a kind: set dockyard:kind to one of {kinds}")]
    return []


# --- rules across sections ---------------------------------------------------------------------


def _outside_dev_problems(settings: Settings) -> list[Problem]:
    kind = settings.kind.value
    problems = []
    if settings.images.tag in ("latest", ""):
        problems.append(Problem("images.tag", settings.images.tag, f"a fixed version tag is required on the {kind} stack; 'latest' is only allowed on dev"))
    if settings.dev.hot_reload:
        problems.append(Problem("dev.hotReload", True, f"hot reload is only allowed on the dev stack, not {kind}"))
    if settings.dev.publish_databases:
        problems.append(Problem("dev.publishDatabases", True, f"publishing databases is only allowed on the dev stack, not {kind}"))
    if settings.kubernetes.enabled:
        problems.append(Problem("kubernetes.enabled", True, (
            f"only the dev stack uses kubernetes.enabled (Minikube beside Docker); {kind} deploys to Kubernetes"
            " through target: kubernetes"
        )))
    return problems


def _reference_problems(settings: Settings, built_services: set[str]) -> list[Problem]:
    images = settings.images
    problems = []
    if images.registry and (problem := registry_problem(images.registry)):
        problems.append(Problem("images.registry", images.registry, problem))
    for setting, bases in (("baseImages", images.base_images), ("runtimeBaseImages", images.runtime_base_images)):
        for service, image in sorted(bases.items()):
            key = f"images.{setting}.{service}"
            if service not in built_services:
                problems.append(Problem(key, image, f"only built services take a base image: {', '.join(sorted(built_services))}"))
            elif problem := image_reference_problem(image):
                problems.append(Problem(key, image, problem))
    for service, override in sorted(settings.services.items()):
        if override.image is not None and (problem := image_reference_problem(override.image)):
            problems.append(Problem(f"services.{service}.image", override.image, problem))
    return problems


def _image_problems(settings: Settings) -> list[Problem]:
    images = settings.images
    problems = []
    if images.push and not images.registry:
        problems.append(Problem("images.push", True, "pushing needs a registry: set dockyard:images.registry (for example registry.example.com/team)"))
    if images.builder and not _BUILDER.match(images.builder):
        problems.append(Problem("images.builder", images.builder, "must be a buildx builder name: letters, digits, '_', '.', '-' (see `docker buildx ls`)"))
    elif images.builder and not images.registry:
        problems.append(Problem("images.builder", images.builder, "a buildx builder keeps its build cache in the registry: set dockyard:images.registry too"))
    if settings.kind is StackKind.STAGING and settings.runs_kubernetes:
        # The cluster pulls what staging deploys, by digest: an image only built locally
        # has no digest in any registry.
        if not images.registry:
            problems.append(Problem("images.registry", images.registry, "staging deploys its images from a registry: set the registry to push to (for example registry.example.com/team)"))
        if not images.push:
            problems.append(Problem("images.push", images.push, "staging deploys the images it builds by digest, so it must push them: set images.push to true"))
    return problems


def _prod_problems(settings: Settings, raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    section = raw.get("images")
    if isinstance(section, Mapping):
        problems += [
            Problem(f"images.{key}", value, "prod builds nothing (it promotes promotion.fromStack's digests): remove the images settings")
            for key, value in section.items()
        ]
    if settings.target is Target.DOCKER:
        problems.append(Problem("target", "docker", "prod builds no images, so it has nothing to run on Docker: target must be kubernetes"))
    if not settings.promotion.from_stack:
        problems.append(Problem("promotion.fromStack", "", f"prod builds nothing: name the stack whose digests it promotes, for example organization/{PROJECT}/staging"))
    return problems


def _promotion_problems(settings: Settings) -> list[Problem]:
    source = settings.promotion.from_stack
    if not source:
        return []
    if settings.kind is not StackKind.PROD:
        return [Problem("promotion.fromStack", source, f"only prod promotes another stack's images; {settings.kind.value} builds its own: remove it")]
    problem = qualified_stack_problem(source, project=PROJECT, own_stack=settings.stack)
    return [Problem("promotion.fromStack", source, problem)] if problem else []


def _kubernetes_name_problems(settings: Settings) -> list[Problem]:
    """Values that become Kubernetes object names or hosts, which the API server would refuse."""
    kube = settings.kubernetes
    if not kube.ingress.host:
        return [Problem("kubernetes.ingress.host", "", "the Ingress needs a host, for example dockyard.example.com")]
    checks = (
        ("kubernetes.ingress.host", kube.ingress.host, ingress_host_problem),
        ("kubernetes.ingress.className", kube.ingress.class_name, object_name_problem),
        ("kubernetes.ingress.tlsSecret", kube.ingress.tls_secret, object_name_problem),
        ("kubernetes.storageClass", kube.storage_class, object_name_problem),
    )
    return [
        Problem(key, value, problem)
        for key, value, check in checks
        if value and (problem := check(value))
    ]


def _host_port_target_problems(settings: Settings) -> list[Problem]:
    # dev on the kubernetes target is refused as a whole (kubernetes_problems).
    if settings.runs_docker or settings.kind is StackKind.DEV:
        return []
    return [
        Problem(f"services.{name}.hostPort", override.host_port, "only the docker target publishes ports on 127.0.0.1; this stack deploys to Kubernetes: remove it")
        for name, override in sorted(settings.services.items())
        if override.host_port is not None
    ]


def _cross_section_problems(settings: Settings, raw: Mapping[str, Any], built_services: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    if settings.kind is StackKind.PROD:
        problems += _prod_problems(settings, raw)
    if settings.kind is not StackKind.DEV:
        problems += _outside_dev_problems(settings)
    problems += _reference_problems(settings, built_services)
    problems += _image_problems(settings)
    problems += _promotion_problems(settings)
    problems += _kubernetes_name_problems(settings)
    problems += _host_port_target_problems(settings)
    return problems


def _fallback_kind(stack: str) -> StackKind | None:
    return StackKind(stack) if stack in {k.value for k in StackKind} else None


def parse_settings(
    stack: str,
    raw: Mapping[str, Any],
    service_names: set[str],
    built_services: set[str],
    secret_keys: tuple[str, ...] = SECRET_KEYS,
) -> tuple[Settings | None, list[Problem]]:
    """Parse raw `dockyard:` config (keys without the namespace).

    Returns the settings and every problem found. A refused value is replaced by its
    default so the rules across sections still run; the settings are None only when the
    stack's kind cannot be known. `validate` in components/spec/stack_config.py turns problems
    into one `SettingsError`.
    """
    problems = _unknown_key_problems(raw, secret_keys) + _plain_secret_problems(raw, secret_keys)
    kind = None
    if "kind" in raw or _fallback_kind(stack) is not None:
        kind = _parse_enum(raw, "kind", StackKind, _fallback_kind(stack), problems)
    problems += _kind_problems(stack, raw, kind)
    # A stack named after a kind is checked as that kind, even when `kind` contradicts it.
    kind = _fallback_kind(stack) or kind
    default_target = Target.DOCKER.value if kind in (StackKind.DEV, None) else Target.KUBERNETES.value
    target = _parse_enum(raw, "target", Target, default_target, problems) or Target(default_target)
    images = _parse_section(raw.get("images"), "images", ImageSettings, problems)
    dev = _parse_section(raw.get("dev"), "dev", DevSettings, problems)
    kubernetes = _parse_section(raw.get("kubernetes"), "kubernetes", KubernetesSettings, problems)
    promotion = _parse_section(raw.get("promotion"), "promotion", PromotionSettings, problems)
    services = _parse_services(raw.get("services", {}), service_names, problems)
    if kind is None:
        return None, distinct_problems(problems)
    settings = Settings(
        stack=stack, kind=kind, target=target, images=images, services=services,
        dev=dev, kubernetes=kubernetes, promotion=promotion,
    )
    problems += _cross_section_problems(settings, raw, built_services)
    return settings, distinct_problems(problems)
