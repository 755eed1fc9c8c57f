"""Typed stack settings: one model read from the `dockyard:` config namespace,
validated as a whole before any resource is registered.

Each section is parsed on its own and the cross-section rules run on whatever
parsed, so one `SettingsError` lists every problem at once, each naming the
stack, the key, the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "dockyard"

_MEMORY = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(?:[0-9]+m|[0-9]+(?:\.[0-9]{1,3})?)$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MEMORY_FACTORS = {
    None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}


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


class _Section(BaseModel):
    """Config sections use camelCase keys, reject unknown keys (typos) and are immutable."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


def memory_bytes(quantity: str) -> int:
    """Bytes in a Kubernetes memory quantity such as `256Mi` or `1G`."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match["n"]) * _MEMORY_FACTORS[match["unit"]])


def cpu_cores(quantity: str) -> float:
    """Cores in a Kubernetes CPU quantity such as `500m` or `1.5`."""
    if not _CPU.match(quantity):
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _check_memory(value: str | None) -> str | None:
    if value is None:
        return value
    if not _MEMORY.match(value) or memory_bytes(value) < 6 * 2**20:
        raise ValueError(
            "must be a memory quantity of at least 6Mi such as 128Mi, 512Mi or 1Gi"
            " (units Ki, Mi, Gi, Ti, k, M, G, T)"
        )
    return value


def _check_cpu(value: str | None) -> str | None:
    if value is None:
        return value
    if not _CPU.match(value) or cpu_cores(value) <= 0:
        raise ValueError("must be a CPU quantity above 0 such as 250m, 0.5 or 2")
    return value


def _check_port(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return value


class ImageSettings(_Section):
    """How images are built, tagged and pushed."""

    registry: str = ""
    registry_username: str = ""
    push: bool = False
    tag: str = "dev"
    platforms: tuple[Platform, ...] = (Platform.LINUX_AMD64,)
    builder: str = ""
    build_on_preview: bool = False
    ca_bundle: str = ""
    source_url: str = ""
    base_images: dict[str, str] = Field(default_factory=dict)
    runtime_base_images: dict[str, str] = Field(default_factory=dict)

    @field_validator("tag")
    @classmethod
    def _tag_shape(cls, value: str) -> str:
        if not _TAG.match(value):
            raise ValueError(
                "must be a Docker tag: letters, digits, '_', '.', '-', at most 128 characters"
            )
        return value

    @field_validator("platforms")
    @classmethod
    def _some_platform(cls, value: tuple[Platform, ...]) -> tuple[Platform, ...]:
        if not value:
            raise ValueError("must name at least one platform")
        return value


class ServiceSettings(_Section):
    """Per-stack overrides of one catalog service."""

    enabled: bool = True
    image: str | None = None
    replicas: int = Field(default=1)
    memory: str | None = None
    cpu: str | None = None
    host_port: int | None = None

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    _memory = field_validator("memory")(classmethod(lambda cls, v: _check_memory(v)))
    _cpu = field_validator("cpu")(classmethod(lambda cls, v: _check_cpu(v)))
    _port = field_validator("host_port")(classmethod(lambda cls, v: _check_port(v)))


class DevSettings(_Section):
    """Laptop conveniences; only allowed on the dev stack."""

    hot_reload: bool = False
    publish_databases: bool = False


class IngressSettings(_Section):
    class_name: str = "nginx"
    host: str = "dockyard.localhost"
    tls_secret: str = ""
    # The one public service the Ingress routes `/` to; the others stay in-cluster
    # (the frontend reaches the backend server-side through BACKEND_URL).
    service: str = "frontend"


class KubernetesSettings(_Section):
    """Where and how the Kubernetes environment is deployed."""

    enabled: bool = False
    context: str = ""
    namespace: str = "dockyard"
    render_yaml_to_directory: str = ""
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    storage_class: str = ""
    # The namespace the ingress controller runs in (NetworkPolicy lets it reach the
    # Ingress's service; matched on the kubernetes.io/metadata.name label).
    ingress_namespace: str = "ingress-nginx"
    # Where an external database lives (egress on its port). 0.0.0.0/0 because a managed
    # database's address is usually not fixed; narrow it when it is.
    external_database_cidr: str = "0.0.0.0/0"

    @field_validator("namespace", "ingress_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
        return value

    @field_validator("external_database_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("must be a CIDR block such as 10.20.0.0/16 or 0.0.0.0/0") from None
        return value


class PromotionSettings(_Section):
    """Where production takes its image digests from."""

    from_stack: str = ""


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


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"{NAMESPACE}:{self.key} = {self.value!r}: {self.allowed}"


class SettingsError(ValueError):
    """Every problem found in a stack's settings, in one message."""

    def __init__(self, stack: str, problems: list[Problem]):
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"stack '{stack}' has {len(problems)} invalid setting(s):\n{lines}"
        )


KNOWN_KEYS = (
    "kind", "target", "images", "services", "dev", "kubernetes", "promotion",
    # secrets, read separately as Pulumi secrets (see components/secrets.py)
    "registryPassword", "databaseUrl",
)


def _enum_problem(key: str, value: Any, enum: type[Enum]) -> Problem:
    allowed = ", ".join(member.value for member in enum)
    return Problem(key, value, f"must be one of: {allowed}")


def _parse_enum(raw: Mapping[str, Any], key: str, enum: type[Enum], default: Any, problems: list[Problem]):
    value = raw.get(key, default)
    try:
        return enum(value)
    except ValueError:
        problems.append(_enum_problem(key, value, enum))
        return None


def _pydantic_problems(prefix: str, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        key = ".".join([prefix, *(str(part) for part in item["loc"])])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the README's configuration reference)"
        problems.append(Problem(key, item.get("input"), message))
    return problems


def _parse_section(value: Any, key: str, model: type[_Section], problems: list[Problem]):
    try:
        return model.model_validate(value or {})
    except ValidationError as error:
        problems.extend(_pydantic_problems(key, error))
        return None


def _parse_services(section: Any, known: set[str], problems: list[Problem]):
    if not isinstance(section, Mapping):
        problems.append(Problem("services", section, "must be a map of service name to settings"))
        return None
    services = {}
    for name, value in section.items():
        if name not in known:
            problems.append(Problem(f"services.{name}", value, f"unknown service; known: {', '.join(sorted(known))}"))
            continue
        parsed = _parse_section(value, f"services.{name}", ServiceSettings, problems)
        if parsed is not None:
            services[name] = parsed
    return services


def _unknown_key_problems(raw: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(key, value, f"unknown key; known: {', '.join(KNOWN_KEYS)}")
        for key, value in raw.items()
        if key not in KNOWN_KEYS
    ]


def _outside_dev_problems(kind: StackKind, images: ImageSettings | None, dev: DevSettings | None) -> list[Problem]:
    problems = []
    if images is not None and images.tag in ("latest", ""):
        problems.append(Problem("images.tag", images.tag, f"a fixed version tag is required on the {kind.value} stack; 'latest' is only allowed on dev"))
    if dev is not None and dev.hot_reload:
        problems.append(Problem("dev.hotReload", True, f"hot reload is only allowed on the dev stack, not {kind.value}"))
    if dev is not None and dev.publish_databases:
        problems.append(Problem("dev.publishDatabases", True, f"publishing databases is only allowed on the dev stack, not {kind.value}"))
    return problems


def _image_problems(images: ImageSettings, built_services: set[str]) -> list[Problem]:
    problems = []
    if images.push and not images.registry:
        problems.append(Problem("images.push", True, "pushing needs a registry: set dockyard:images.registry (for example registry.example.com/team)"))
    if images.builder and not images.registry:
        problems.append(Problem("images.builder", images.builder, "a buildx builder keeps its build cache in the registry: set dockyard:images.registry too"))
    for key, bases in (("baseImages", images.base_images), ("runtimeBaseImages", images.runtime_base_images)):
        for service in sorted(set(bases) - built_services):
            problems.append(Problem(f"images.{key}.{service}", bases[service], f"only built services take a base image: {', '.join(sorted(built_services))}"))
    return problems


def _cross_section_problems(
    kind: StackKind | None,
    images: ImageSettings | None,
    dev: DevSettings | None,
    promotion: PromotionSettings | None,
    built_services: set[str],
) -> list[Problem]:
    problems: list[Problem] = []
    if kind is not None and kind is not StackKind.DEV:
        problems += _outside_dev_problems(kind, images, dev)
    if images is not None:
        problems += _image_problems(images, built_services)
    if kind is StackKind.PROD and promotion is not None and not promotion.from_stack:
        problems.append(Problem("promotion.fromStack", "", "prod builds nothing: name the stack whose digests it promotes, for example org/dockyard/staging"))
    return problems


def parse_settings(
    stack: str,
    raw: Mapping[str, Any],
    service_names: set[str],
    built_services: set[str],
) -> tuple[Settings | None, list[Problem]]:
    """Parse raw `dockyard:` config (keys without the namespace).

    Returns the settings (None when a section did not parse) and every problem found;
    `load_settings` in the program turns problems into one `SettingsError`.
    """
    problems = _unknown_key_problems(raw)
    default_kind = stack if stack in {k.value for k in StackKind} else None
    kind = _parse_enum(raw, "kind", StackKind, default_kind, problems)
    default_target = Target.DOCKER.value if kind in (StackKind.DEV, None) else Target.KUBERNETES.value
    target = _parse_enum(raw, "target", Target, default_target, problems)
    images = _parse_section(raw.get("images"), "images", ImageSettings, problems)
    dev = _parse_section(raw.get("dev"), "dev", DevSettings, problems)
    kubernetes = _parse_section(raw.get("kubernetes"), "kubernetes", KubernetesSettings, problems)
    promotion = _parse_section(raw.get("promotion"), "promotion", PromotionSettings, problems)
    services = _parse_services(raw.get("services") or {}, service_names, problems)
    problems += _cross_section_problems(kind, images, dev, promotion, built_services)
    parsed = (kind, target, images, dev, kubernetes, promotion, services)
    if any(part is None for part in parsed):
        return None, problems
    settings = Settings(
        stack=stack, kind=kind, target=target, images=images, services=services,
        dev=dev, kubernetes=kubernetes, promotion=promotion,
    )
    return settings, problems
