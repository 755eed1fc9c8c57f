"""Typed stack settings: the sections of the `dockyard:` config namespace, and `Settings`,
one stack's validated whole.

settings_parser.py reads raw config into these (every section on its own) and
settings_rules.py checks the rules across sections; one `SettingsError` lists every problem.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from components.config.fields import CamelModel, Count, Flag, Quantity, Text, text
from components.core.problems import Problem, Refusal
from components.core.quantities import check_cpu, check_memory
from components.core.references import (
    TAG,
    label_problem,
)

NAMESPACE = "dockyard"  # the config namespace, which is also the project's name
PROJECT = NAMESPACE


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
    return {str(service): text(image) for service, image in value.items()}


class ImageSettings(CamelModel):
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
            raise ValueError("must be a Docker tag: letters, digits, '_', '.', '-' (not first), at most 128 characters")
        return value


class ServiceSettings(CamelModel):
    """Per-stack overrides of one catalog service."""

    enabled: Flag = True
    image: Text | None = None
    replicas: Count = 1
    memory: Quantity | None = None
    cpu: Quantity | None = None
    host_port: Count | None = None
    # dev only: this service under its catalog debugger (unset: dev.debug), and the 127.0.0.1
    # port the debugger is published on (unset: the catalog's debug.port).
    debug: Flag | None = None
    debug_host_port: Count | None = None

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be a whole number of at least 1")
        return value

    _memory = field_validator("memory")(classmethod(lambda cls, v: check_memory(v)))
    _cpu = field_validator("cpu")(classmethod(lambda cls, v: check_cpu(v)))
    _port = field_validator("host_port", "debug_host_port")(classmethod(lambda cls, v: _check_port(v)))


class DevSettings(CamelModel):
    """Laptop conveniences; only allowed on the dev stack."""

    hot_reload: Flag = False
    publish_databases: Flag = False
    # The built services the catalog gives a `debug` run their dev stage under it (ports on 127.0.0.1).
    debug: Flag = False
    # The catalog's monitoring service runs, scraping every enabled service's `metrics`.
    monitoring: Flag = False


class IngressSettings(CamelModel):
    class_name: Text = "nginx"
    host: Text = "dockyard.localhost"
    tls_secret: Text = ""
    # The one public service the Ingress routes `/` to; the others stay in-cluster. Unset:
    # the catalog's only public service (with several, the stack names one).
    service: Text = ""


MIN_ROLLOUT_TIMEOUT_SECONDS = 120


class KubernetesSettings(CamelModel):
    """Where and how the Kubernetes environment is deployed."""

    enabled: Flag = False
    context: Text = ""
    # Unset: dockyard-<stack> (settings_parser.py; core/names.py default_namespace).
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
    # How long a release's rollout of a Deployment may take before `pulumi up` fails it (and the
    # deploy workflow rolls back). The provider waits this long, not for the cluster's own verdict
    # (a Deployment past its progressDeadlineSeconds is only reported when the wait ends). Long
    # enough for a rolling update of every replica the HPA may have made; a first deploy gets 20 min.
    rollout_timeout_seconds: Count = 600

    @field_validator("rollout_timeout_seconds")
    @classmethod
    def _rollout_timeout(cls, value: int) -> int:
        if value < MIN_ROLLOUT_TIMEOUT_SECONDS:
            raise ValueError(
                f"must be at least {MIN_ROLLOUT_TIMEOUT_SECONDS} (seconds): a pod's image pull and start-up "
                "(the startup probe's 75 s budget) must fit in a rollout"
            )
        return value

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


class PromotionSettings(CamelModel):
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

    def debugs(self, name: str) -> bool:
        """Whether the stack asks for `name` under its debugger (`services.<name>.debug`, else
        `dev.debug`); only a service whose catalog entry has `debug` is run so."""
        chosen = self.service(name).debug
        return self.dev.debug if chosen is None else chosen

    @property
    def builds_images(self) -> bool:
        return self.kind is not StackKind.PROD

    @property
    def runs_docker(self) -> bool:
        return self.target is Target.DOCKER

    @property
    def runs_kubernetes(self) -> bool:
        return self.target is Target.KUBERNETES or self.kubernetes.enabled


class SettingsError(Refusal):
    """Every problem found in a stack's settings, in one message."""

    def __init__(self, stack: str, problems: list[Problem]):
        self.stack = stack
        super().__init__(
            f"stack '{stack}' has {len(problems)} invalid setting(s) in Pulumi.{stack}.yaml", problems, f"{NAMESPACE}:"
        )


# The program's own config secrets; the catalog declares the apps' (see catalog.yaml).
SECRET_KEYS = ("registryPassword",)
SETTING_KEYS = ("kind", "target", "images", "services", "dev", "kubernetes", "promotion")
