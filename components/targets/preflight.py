"""Checks of what the program drives, made before any resource is registered.

- The Docker engine: which one is found as the docker CLI finds it (docker_engine.py: the
  stack's docker:host/docker:context, DOCKER_HOST, DOCKER_CONTEXT, the current context, the
  default socket), said in the update's first lines, and handed to both the program's own
  client and the explicit Docker provider. It must answer, and with API 1.44 (Docker Engine
  25) or newer: the Docker provider sends health checks with `start_interval`, which older
  engines refuse, so an older engine would fail on the first container after the network and
  volumes already exist.
- The kubeconfig context a Kubernetes stack names: without it the provider falls back
  to warnings at preview and fails at `up`, after images were built and pushed.

Each check returns a list of problems (empty when fine) for the one validation report.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.core.problems import Problem, Refusal
from components.targets.docker.engine import (  # noqa: F401  (DockerEngine: the name the tests' harness replaces)
    DEFAULT_DOCKER_HOST,
    DockerEndpoint,
    DockerEngine,
    EngineSelectionError,
    resolve_endpoint,
)

MIN_DOCKER_API = (1, 44)
MIN_DOCKER_ENGINE = "25.0"


class PreflightError(Refusal):
    """What the program's surroundings (engine, cluster access) lack: every problem at once."""

    def __init__(self, stack: str, problems: list[str]):
        super().__init__(
            f"stack '{stack}' cannot be deployed from here; nothing was created", [Problem.sentence(p) for p in problems]
        )


def stack_docker_config(config: pulumi.Config) -> dict[str, Any]:
    """The stack's `docker:` keys the engine resolution reads (docker provider config keys)."""
    try:
        ssh_opts = config.get_object("sshOpts")
    except pulumi.ConfigTypeError:  # not JSON: refused by resolve_endpoint, with the form it takes
        ssh_opts = config.get("sshOpts")
    values: dict[str, Any] = {
        "host": config.get("host"), "context": config.get("context"), "certPath": config.get("certPath"),
        "sshOpts": ssh_opts,
    }
    for key in ("caMaterial", "certMaterial", "keyMaterial"):  # refused by resolve_endpoint, with the fix
        if config.get_secret(key) is not None:
            values[key] = "set"
    return values


def docker_environment() -> Mapping[str, str]:
    """The variables the engine resolution reads (the tests' harness gives its own)."""
    return os.environ


def docker_engine_preflight(config: pulumi.Config) -> tuple[Any, list[str]]:
    """The engine this stack runs on, found as the docker CLI finds it (see docker_engine.py),
    said in the update's first lines, and checked: (DockerEngine, []) or (None or the engine, problems)."""
    try:
        endpoint = resolve_endpoint(stack_docker_config(config), docker_environment())
    except EngineSelectionError as error:
        return None, error.problems
    pulumi.log.info(endpoint.describe())
    engine = DockerEngine(endpoint)
    return engine, docker_engine_problems(engine)


def docker_provider_args(endpoint: DockerEndpoint) -> dict[str, Any]:
    """Inputs of the explicit Docker provider on `endpoint`: the key material is a secret."""
    args = endpoint.provider_args()
    if args.get("key_material"):
        args["key_material"] = pulumi.Output.secret(args["key_material"])
    return args


def _api_tuple(api_version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in api_version.split("."))
    except ValueError:
        return (0,)


def docker_engine_problems(engine: DockerEngine) -> list[str]:
    """Why `engine` cannot run this stack's containers, or []."""
    endpoint = getattr(engine, "endpoint", None)
    where = f"{engine.host} ({endpoint.source})" if endpoint is not None else engine.host
    try:
        found = engine.version()
    except (OSError, ValueError) as error:
        return [
            f"no Docker engine answers at {where}: {error}. Start it, or select another engine: "
            "`docker context use NAME`, DOCKER_HOST / DOCKER_CONTEXT, or `pulumi config set docker:host …` "
            "(README: \"Where is your Docker?\")"
        ]
    api = str(found.get("ApiVersion", "0"))
    if _api_tuple(api) < MIN_DOCKER_API:
        minimum = ".".join(map(str, MIN_DOCKER_API))
        return [
            f"the Docker engine at {where} is {found.get('Version', '?')} (API {api}); dockyard needs "
            f"Docker Engine {MIN_DOCKER_ENGINE} or newer (API {minimum}), which the Docker provider needs "
            "for health-check start intervals. Upgrade Docker"
        ]
    return []


def docker_host(provider_host: str | None) -> str:
    """The engine's address: `provider_host` (docker:host), else as the docker CLI resolves it."""
    return resolve_endpoint({"host": provider_host}).host


def kubeconfig_paths() -> list[Path]:
    """The files kubectl and the Kubernetes provider read, in order (KUBECONFIG, else ~/.kube/config)."""
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def kubeconfig_contexts(paths: Iterable[Path]) -> set[str]:
    contexts: set[str] = set()
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name"):
                contexts.add(str(entry["name"]))
    return contexts


def kube_context_problems(context: str, paths: list[Path] | None = None) -> list[str]:
    """Why the kubeconfig context `context` cannot be used, or []. An empty context means
    the kubeconfig's current context, which the provider resolves itself."""
    if not context:
        return []
    paths = kubeconfig_paths() if paths is None else paths
    known = kubeconfig_contexts(paths)
    if context in known:
        return []
    searched = ", ".join(str(p) for p in paths)
    return [
        f"kubeconfig context '{context}' (kubernetes.context) is not in {searched} "
        f"(contexts found: {', '.join(sorted(known)) or 'none'}). Write it first, e.g. "
        f"`aws eks update-kubeconfig --name <cluster> --alias {context}` (the deploy workflow does), "
        "or render manifests without a cluster with kubernetes.renderYamlToDirectory."
    ]
