"""The Docker engine, checked before any resource is registered: the one the docker CLI would
use (endpoint.py: the stack's docker:host/docker:context, DOCKER_HOST, DOCKER_CONTEXT, the
current context, the default socket), said in the update's first lines and handed to both the
program's own client and the explicit Docker provider. It must answer, with API 1.44 (Docker
Engine 25) or newer: the provider sends health checks with `start_interval`, which older
engines refuse after the network and volumes already exist. Then what the engine's machine lacks
for this stack: a published port something else holds, a nearly full disk (`docker_stack_problems`).
Checks return problems ([] when fine)."""

from __future__ import annotations

from typing import Any

import pulumi

from components.plan.resolve import ResolvedStack
from components.targets.docker.disk_space import disk_problems
from components.targets.docker.endpoint import (
    DockerEndpoint,
    EngineSelectionError,
    resolve_endpoint,
)
from components.targets.docker.engine import DockerEngine
from components.targets.docker.host_ports import port_problems, wanted_ports
from components.targets.host import Host

MIN_DOCKER_API = (1, 44)
MIN_DOCKER_ENGINE = "25.0"


def stack_docker_config(config: pulumi.Config) -> dict[str, Any]:
    """The stack's `docker:` keys the engine resolution reads (docker provider config keys)."""
    try:
        ssh_opts = config.get_object("sshOpts")
    except pulumi.ConfigTypeError:  # not JSON: refused by resolve_endpoint, with the form it takes
        ssh_opts = config.get("sshOpts")
    values: dict[str, Any] = {
        "host": config.get("host"),
        "context": config.get("context"),
        "certPath": config.get("certPath"),
        "sshOpts": ssh_opts,
    }
    for key in ("caMaterial", "certMaterial", "keyMaterial"):  # refused by resolve_endpoint, with the fix
        if config.get_secret(key) is not None:
            values[key] = "set"
    return values


def docker_engine_preflight(config: pulumi.Config, host: Host) -> tuple[DockerEngine | None, list[str]]:
    """The engine this stack runs on, found as the docker CLI finds it (see endpoint.py),
    said in the update's first lines, and checked: (client, []) or (None or the client, problems).
    The client is `host.connect`'s when a test gives one, else a `DockerEngine`."""
    try:
        endpoint = resolve_endpoint(stack_docker_config(config), host.environ())
    except EngineSelectionError as error:
        return None, error.problems
    pulumi.log.info(endpoint.describe())
    engine = (host.connect or DockerEngine)(endpoint)
    return engine, docker_engine_problems(engine)


def docker_stack_problems(engine: DockerEngine, stack: ResolvedStack, *, builds: bool, host: Host) -> list[str]:
    """What the engine's machine lacks for this stack, said before anything is created: a host
    port it publishes that something else holds (host_ports.py), too little free disk for the
    build and the containers (disk_space.py). An engine that stops answering here is said as the
    version check says it."""
    try:
        return port_problems(engine, stack.settings.stack, wanted_ports(stack)) + disk_problems(
            engine, builds=builds, builder=stack.settings.images.builder or None, env=host.environ()
        )
    except OSError as error:
        return [f"the Docker engine at {engine.host} stopped answering: {error}"]


def docker_preflight(
    config: pulumi.Config, host: Host, stack: ResolvedStack, *, builds: bool
) -> tuple[DockerEngine | None, list[str]]:
    """The engine (`docker_engine_preflight`) and, once it answers, its machine
    (`docker_stack_problems`): (client, []) or (None or the client, problems)."""
    engine, problems = docker_engine_preflight(config, host)
    if engine is not None and not problems:
        problems = docker_stack_problems(engine, stack, builds=builds, host=host)
    return engine, problems


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
            '(README: "Where is your Docker?")'
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
