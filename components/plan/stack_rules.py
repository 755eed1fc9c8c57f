"""What is wrong with a stack's settings for this catalog: the rules that need both.

Plain functions over one `StackView` (the catalog, the parsed settings and what follows from
both, computed once), run by `validate` before anything is resolved or rendered.
"""

from __future__ import annotations

from components.config.settings import StackKind
from components.core.problems import Problem
from components.core.references import has_digest
from components.plan.target_limits import docker_limit_problems
from components.plan.view import StackView, debug_host_port, debugged, published_port


def override_problems(view: StackView) -> list[Problem]:
    catalog, settings = view.catalog, view.settings
    problems = []
    for spec in catalog.services:
        override = settings.service(spec.name)
        if override.image and spec.image is None:
            problems.append(
                Problem(
                    f"services.{spec.name}.image",
                    override.image,
                    "only upstream images can be replaced; a built service takes dockyard:images.baseImages instead",
                )
            )
        if spec.one_shot and override.replicas != 1:
            problems.append(
                Problem(f"services.{spec.name}.replicas", override.replicas, "a one-shot service runs exactly once: 1")
            )
        if spec.state is not None and override.replicas != 1:
            problems.append(
                Problem(
                    f"services.{spec.name}.replicas",
                    override.replicas,
                    "a stateful single-instance service runs 1 replica; use an external service to scale",
                )
            )
    return problems


def disabled_problems(view: StackView, configured_secrets: set[str]) -> list[Problem]:
    """A disabled service its users still need must be replaced through its config secret."""
    catalog = view.catalog
    problems = []
    enabled = view.enabled
    users_of: dict[str, list[str]] = {}  # one pass, not one per disabled service
    for other in catalog.services:
        if other.name in enabled:
            for needed in dict.fromkeys(other.depends_on):
                users_of.setdefault(needed, []).append(other.name)
    for spec in catalog.services:
        if spec.name in enabled:
            continue
        replacement = catalog.replacement(spec.name)
        users = users_of.get(spec.name, [])
        if replacement is None and users:
            problems.append(
                Problem(
                    f"services.{spec.name}.enabled",
                    False,
                    f"{', '.join(users)} need(s) {spec.name}, which has no external replacement (a secret it owns with `config`)",
                )
            )
        elif replacement is not None and replacement not in configured_secrets:
            problems.append(
                Problem(
                    f"services.{spec.name}.enabled",
                    False,
                    f"an external {spec.name} needs the secret dockyard:{replacement} "
                    f"(pulumi config set --secret {replacement} …)",
                )
            )
    return problems


def required_secret_problems(view: StackView, configured_secrets: set[str]) -> list[Problem]:
    """A config-only secret an enabled service uses (itself, or through a template) must be set."""
    catalog = view.catalog
    used = set(view.secrets_in_use)
    return [
        Problem(
            secret.config, None, f"the secret {name} is read from config: pulumi config set --secret {secret.config} …"
        )
        for name, secret in catalog.secrets.items()
        if name in used
        and secret.config
        and not (secret.generate or secret.template)
        and secret.config not in configured_secrets
    ]


def unused_service_problems(view: StackView, configured_secrets: set[str]) -> list[Problem]:
    """A service replaced by its config secret would run, unused, beside the external one."""
    catalog, settings = view.catalog, view.settings
    problems = []
    for spec in catalog.services:
        replacement = catalog.replacement(spec.name)
        if replacement in configured_secrets and settings.service(spec.name).enabled:
            problems.append(
                Problem(
                    f"services.{spec.name}.enabled",
                    True,
                    (
                        f"the secret {replacement} points the apps at an external {spec.name}, so this one would run unused:"
                        f" set services.{spec.name}.enabled to false, or remove the secret (pulumi config rm {replacement})"
                    ),
                )
            )
    return problems


def host_port_problems(view: StackView) -> list[Problem]:
    """Each published service needs its own 127.0.0.1 port; a hostPort on a service that is
    not published would be silently ignored."""
    catalog, settings = view.catalog, view.settings
    if not settings.runs_docker:
        return []
    problems = []
    taken: dict[int, str] = {}
    enabled = view.enabled
    for spec in catalog.services:
        if spec.name not in enabled:
            continue
        published = published_port(spec, settings)
        chosen = settings.service(spec.name).host_port
        key = f"services.{spec.name}.hostPort"
        if chosen is not None and published is None:
            why = (
                "it has no port"
                if spec.port is None
                else (
                    "databases are published only with dev.publishDatabases: true" if spec.state else "it is not public"
                )
            )
            problems.append(Problem(key, chosen, f"{spec.name} is not published on 127.0.0.1 ({why}): remove it"))
        for port, port_key, what in (
            (published, key, spec.name),
            (debug_host_port(spec, settings), f"services.{spec.name}.debugHostPort", f"{spec.name}'s debugger"),
        ):
            if port is None:
                continue
            other = taken.setdefault(port, what)
            if other != what:
                problems.append(
                    Problem(
                        port_key,
                        port,
                        (
                            f"127.0.0.1:{port} is already published by {other}: give each its own port"
                            " with services.<name>.hostPort or .debugHostPort (1-65535)"
                        ),
                    )
                )
    return problems


def debug_problems(view: StackView) -> list[Problem]:
    """A debugger the catalog does not declare, a debugHostPort nothing publishes, and debuggers
    on Minikube (which runs the runtime images and publishes nothing)."""
    catalog, settings = view.catalog, view.settings
    if settings.kind is not StackKind.DEV:
        return []  # refused as a whole there (settings_rules.py)
    declared = ", ".join(spec.name for spec in catalog.services if spec.debug) or "none"
    problems = []
    if settings.dev.debug and declared == "none":
        problems.append(
            Problem("dev.debug", True, "no service in the catalog has a `debug` block (port and command) to run")
        )
    for spec in catalog.services:
        override = settings.service(spec.name)
        if override.debug and spec.debug is None:
            problems.append(
                Problem(
                    f"services.{spec.name}.debug",
                    True,
                    f"the catalog gives {spec.name} no `debug` block (port and command); services that have one: {declared}",
                )
            )
        elif override.debug_host_port is not None and not (spec.name in view.enabled and debugged(spec, settings)):
            problems.append(
                Problem(
                    f"services.{spec.name}.debugHostPort",
                    override.debug_host_port,
                    f"{spec.name} runs under no debugger here (dev.debug, services.{spec.name}.debug): remove it",
                )
            )
    running = [spec.name for spec in catalog.services if spec.name in view.enabled and debugged(spec, settings)]
    if running and settings.kubernetes.enabled:
        key = "dev.debug" if settings.dev.debug else f"services.{running[0]}.debug"
        problems.append(
            Problem(
                key,
                True,
                "Minikube runs the runtime images, which have no debugger, and publishes no ports:"
                " turn off the debugger or kubernetes.enabled",
            )
        )
    return problems


def monitoring_problems(view: StackView) -> list[Problem]:
    """dev.monitoring needs the catalog's monitoring service, and the docker target alone."""
    settings = view.settings
    if not (settings.dev.monitoring and settings.kind is StackKind.DEV):
        return []
    if not any(spec.monitoring for spec in view.catalog.services):
        return [
            Problem(
                "dev.monitoring",
                True,
                "no service in the catalog has a `monitoring` block (a Prometheus that scrapes the others) to run",
            )
        ]
    if settings.kubernetes.enabled:
        return [
            Problem(
                "dev.monitoring",
                True,
                "the dev Prometheus runs on Docker and scrapes the Docker network; in a cluster the workloads carry"
                " prometheus.io/* annotations for the cluster's own Prometheus: turn off one of"
                " dev.monitoring and kubernetes.enabled",
            )
        ]
    return []


def kubernetes_problems(view: StackView) -> list[Problem]:
    """What is wrong for the Kubernetes target (only when the stack runs it)."""
    settings = view.settings
    if not settings.runs_kubernetes:
        return []
    problems = []
    public, target = view.public, view.routed
    if target is None and len(public) > 1:
        problems.append(
            Problem(
                "kubernetes.ingress.service",
                "",
                f"the catalog has several public services: name the one the Ingress routes to: {', '.join(public)}",
            )
        )
    elif target not in public:
        problems.append(
            Problem(
                "kubernetes.ingress.service",
                target,
                f"must be an enabled public service with a port: {', '.join(public) or 'none'}",
            )
        )
    if settings.kind is StackKind.PROD:
        for name in public:
            replicas = settings.service(name).replicas
            if replicas < 2:
                problems.append(
                    Problem(
                        f"services.{name}.replicas",
                        replicas,
                        "prod runs public services with at least 2 replicas (survives a node drain; HPA and PDB need them)",
                    )
                )
    if settings.kind is not StackKind.DEV:
        problems += _digest_problems(view)
    if settings.kind is StackKind.DEV and not settings.runs_docker:
        # Dev images are only loaded into a Docker daemon (Minikube's) on the docker target.
        problems.append(
            Problem(
                "target",
                settings.target.value,
                "dev reaches Minikube with target docker and kubernetes.enabled true "
                "(images are built into Minikube's Docker daemon, see docs/kubernetes.md)",
            )
        )
    if settings.dev.hot_reload and settings.kubernetes.enabled:
        problems.append(
            Problem(
                "dev.hotReload", True, "Kubernetes runs the runtime images: turn off hot reload or kubernetes.enabled"
            )
        )
    return problems


def _digest_problems(view: StackView) -> list[Problem]:
    """Staging and prod run exactly what was tested: upstream images pinned by digest (the
    policy pack's k8s-image-pinning would refuse the preview otherwise)."""
    catalog, settings = view.catalog, view.settings
    enabled = view.enabled
    problems = []
    for spec in catalog.services:
        image = settings.service(spec.name).image or spec.image
        if spec.name in enabled and image and not has_digest(image):
            problems.append(
                Problem(
                    f"services.{spec.name}.image",
                    image,
                    (
                        f"{settings.kind.value} deploys upstream images pinned by digest: set it to {image}@sha256:…"
                        f" (docker buildx imagetools inspect {image}), here or in catalog.yaml"
                    ),
                )
            )
    return problems


def stack_problems(view: StackView, configured_secrets: set[str]) -> list[Problem]:
    return (
        override_problems(view)
        + disabled_problems(view, configured_secrets)
        + required_secret_problems(view, configured_secrets)
        + unused_service_problems(view, configured_secrets)
        + host_port_problems(view)
        + debug_problems(view)
        + monitoring_problems(view)
        + kubernetes_problems(view)
        + docker_limit_problems(view)
    )
