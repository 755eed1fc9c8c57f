"""The settings' rules across sections (what one section alone cannot tell): by stack kind,
image references, pushing, promotion, Kubernetes names. Run on whatever parsed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.config.settings import PROJECT, Settings, StackKind, Target
from components.core.problems import Problem
from components.core.references import (
    image_reference_problem,
    ingress_host_problem,
    object_name_problem,
    qualified_stack_problem,
    registry_problem,
)

_BUILDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _outside_dev_problems(settings: Settings) -> list[Problem]:
    kind = settings.kind.value
    problems = []
    if settings.images.tag in ("latest", ""):
        problems.append(
            Problem(
                "images.tag",
                settings.images.tag,
                f"a fixed version tag is required on the {kind} stack; 'latest' is only allowed on dev",
            )
        )
    if settings.dev.hot_reload:
        problems.append(Problem("dev.hotReload", True, f"hot reload is only allowed on the dev stack, not {kind}"))
    if settings.dev.publish_databases:
        problems.append(
            Problem("dev.publishDatabases", True, f"publishing databases is only allowed on the dev stack, not {kind}")
        )
    if settings.dev.debug:
        problems.append(
            Problem("dev.debug", True, f"a debugger is only allowed on the dev stack, not {kind}: remove it")
        )
    if settings.dev.monitoring:
        problems.append(
            Problem(
                "dev.monitoring",
                True,
                f"the dev stack runs its own Prometheus; {kind} is scraped by the cluster's, through the"
                " prometheus.io/* pod annotations: remove it",
            )
        )
    for name, override in sorted(settings.services.items()):
        if override.debug:
            problems.append(
                Problem(f"services.{name}.debug", True, f"a debugger is only allowed on the dev stack, not {kind}")
            )
        if override.debug_host_port is not None:
            problems.append(
                Problem(
                    f"services.{name}.debugHostPort",
                    override.debug_host_port,
                    f"debuggers run on the dev stack only, not {kind}: remove it",
                )
            )
    if settings.kubernetes.enabled:
        problems.append(
            Problem(
                "kubernetes.enabled",
                True,
                (
                    f"only the dev stack uses kubernetes.enabled (Minikube beside Docker); {kind} deploys to Kubernetes"
                    " through target: kubernetes"
                ),
            )
        )
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
                problems.append(
                    Problem(key, image, f"only built services take a base image: {', '.join(sorted(built_services))}")
                )
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
        problems.append(
            Problem(
                "images.push",
                True,
                "pushing needs a registry: set dockyard:images.registry (for example registry.example.com/team)",
            )
        )
    if images.builder and not _BUILDER.match(images.builder):
        problems.append(
            Problem(
                "images.builder",
                images.builder,
                "must be a buildx builder name: letters, digits, '_', '.', '-' (see `docker buildx ls`)",
            )
        )
    elif images.builder and not images.registry:
        problems.append(
            Problem(
                "images.builder",
                images.builder,
                "a buildx builder keeps its build cache in the registry: set dockyard:images.registry too",
            )
        )
    if settings.kind is StackKind.STAGING and settings.runs_kubernetes:
        # The cluster pulls what staging deploys, by digest: an image only built locally
        # has no digest in any registry.
        if not images.registry:
            problems.append(
                Problem(
                    "images.registry",
                    images.registry,
                    "staging deploys its images from a registry: set the registry to push to (for example registry.example.com/team)",
                )
            )
        if not images.push:
            problems.append(
                Problem(
                    "images.push",
                    images.push,
                    "staging deploys the images it builds by digest, so it must push them: set images.push to true",
                )
            )
    return problems


def _prod_problems(settings: Settings, raw: Mapping[str, Any]) -> list[Problem]:
    problems = []
    section = raw.get("images")
    if isinstance(section, Mapping):
        problems += [
            Problem(
                f"images.{key}",
                value,
                "prod builds nothing (it promotes promotion.fromStack's digests): remove the images settings",
            )
            for key, value in section.items()
        ]
    if settings.target is Target.DOCKER:
        problems.append(
            Problem(
                "target",
                "docker",
                "prod builds no images, so it has nothing to run on Docker: target must be kubernetes",
            )
        )
    if not settings.promotion.from_stack:
        problems.append(
            Problem(
                "promotion.fromStack",
                "",
                f"prod builds nothing: name the stack whose digests it promotes, for example organization/{PROJECT}/staging",
            )
        )
    return problems


def _promotion_problems(settings: Settings) -> list[Problem]:
    source = settings.promotion.from_stack
    if not source:
        return []
    if settings.kind is not StackKind.PROD:
        return [
            Problem(
                "promotion.fromStack",
                source,
                f"only prod promotes another stack's images; {settings.kind.value} builds its own: remove it",
            )
        ]
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
    return [Problem(key, value, problem) for key, value, check in checks if value and (problem := check(value))]


def _host_port_target_problems(settings: Settings) -> list[Problem]:
    # dev on the kubernetes target is refused as a whole (kubernetes_problems).
    if settings.runs_docker or settings.kind is StackKind.DEV:
        return []
    return [
        Problem(
            f"services.{name}.hostPort",
            override.host_port,
            "only the docker target publishes ports on 127.0.0.1; this stack deploys to Kubernetes: remove it",
        )
        for name, override in sorted(settings.services.items())
        if override.host_port is not None
    ]


def cross_section_problems(settings: Settings, raw: Mapping[str, Any], built_services: set[str]) -> list[Problem]:
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
