"""`compose_document`: the resolved stack as a compose file, one service per container plan.

Each service carries what the docker target sends its container (components/plan/container.py):
env, command, user, read-only root + tmpfs, all capabilities dropped, no-new-privileges,
memory/CPU limits, the catalog's health check and timing, 127.0.0.1 ports, named volumes, one
network with aliases, and start order gated as the program gates it (depends_on: a one-shot
exited 0, a service healthy). Built services get `build:` sections on the contexts,
Dockerfiles, targets and build args the program's builds use (images/service_image.py), under
a tag of their own (`<images.tag>-compose`), so compose builds them itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.core.labels import STACK_LABEL
from components.core.problems import Problem
from components.images.service_image import CA_BUNDLE_SECRET_ID, git_revision, plan_build
from components.plan.container import LOG_OPTIONS, STOP_GRACE_SECONDS, ContainerPlan, container_plan
from components.plan.resolve import ResolvedStack, Service
from components.targets.compose.secrets import ComposeRefusal, config_secret_problems, fill_secrets, secret_values

LOOPBACK = "127.0.0.1"
NETWORK = "stack"
TAG_SUFFIX = "-compose"


def literal(text: str) -> str:
    """A value compose must not interpolate (`$` starts a variable in a compose file)."""
    return text.replace("$", "$$")


def compose_env(service: Service, values: Mapping[str, str]) -> dict[str, str]:
    """The container's env in the catalog's order, as the program's `_env` gives it."""
    env = {
        key: service.plain_env[key] if key in service.plain_env else fill_secrets(service.secret_env[key], values)
        for key in service.spec.env
    }
    return {key: literal(value) for key, value in env.items()}


def compose_healthcheck(plan: ContainerPlan) -> dict[str, Any] | None:
    """The catalog's check and timing (interval, timeout, retries, start period and interval),
    in the Go duration form the program sends and compose also reads."""
    if plan.health_test is None:
        return None
    return {"test": [literal(arg) for arg in plan.health_test], **plan.health_timing}


def compose_depends_on(service: Service, stack: ResolvedStack) -> dict[str, dict[str, str]]:
    """What the program's health gates wait for: a one-shot to exit 0, a service to be healthy."""
    conditions = {}
    for name in service.depends_on:
        spec = stack.services[name].spec
        if spec.one_shot:
            conditions[name] = {"condition": "service_completed_successfully"}
        elif spec.health is not None:
            conditions[name] = {"condition": "service_healthy"}
        else:
            conditions[name] = {"condition": "service_started"}
    return conditions


def compose_build(service: Service, stack: ResolvedStack, project_dir: Path, tag: str) -> dict[str, Any]:
    """The build the program asks BuildKit for (plan_build), under compose's own tag (APP_VERSION
    follows it, as it follows a Pulumi tag): compose runs the build, and BuildKit's shared cache
    serves the layers it already has (APP_VERSION is an ENV of the runtime stage, which does not
    key its COPY layers)."""
    images = stack.settings.images.model_copy(update={"tag": tag})
    plan = plan_build(
        service.spec,
        images,
        project_dir=project_dir,
        revision=git_revision(project_dir),
        load_into_daemon=True,
        dev_stage=False,
    )
    build = {
        "context": plan.context,
        "dockerfile": str(Path(plan.dockerfile).relative_to(plan.context)),
        "target": plan.target,
        "args": {key: literal(value) for key, value in plan.build_args.items()},
        "labels": {key: literal(value) for key, value in plan.labels.items()},
    }
    if stack.settings.images.ca_bundle:
        build["secrets"] = [CA_BUNDLE_SECRET_ID]
    return build


def _ports(plan: ContainerPlan, host_port: int | None) -> list[str]:
    """127.0.0.1 only; `host_port` replaces the service's own published port (the debugger's stays)."""
    ports = [(p.internal, p.external) for p in plan.published]
    if host_port is not None and ports:
        ports[0] = (ports[0][0], host_port)
    return [f"{LOOPBACK}:{external}:{internal}" for internal, external in ports]


def compose_service(service: Service, stack: ResolvedStack, context: Mapping[str, Any]) -> dict[str, Any]:
    """One service as the program's container: `context` holds the image names, secret values,
    host ports, swap accounting, project directory, compose tag and compose project name."""
    plan = container_plan(service, stack.settings, context["project_dir"])
    memory = f"{plan.memory_mb}m"
    entry: dict[str, Any] = {
        "image": context["images"][service.name],
        "user": plan.user,
        "read_only": plan.read_only,
        "tmpfs": [f"{path}:{options}" for path, options in plan.tmpfs.items()],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "memswap_limit": memory if context["swap_accounted"] else -1,
        "cpus": float(plan.cpus),
        "networks": {NETWORK: {"aliases": [service.name]}},
        # The compose project, not the Pulumi stack: `make down purge=1` leaves its objects alone.
        "labels": {**plan.labels, STACK_LABEL: context["compose_project"]},
        "logging": {"driver": "json-file", "options": dict(LOG_OPTIONS)},
        "stop_grace_period": f"{STOP_GRACE_SECONDS}s",
        "restart": "no" if plan.one_shot else "unless-stopped",
    }
    if env := compose_env(service, context["secrets"]):
        entry["environment"] = env
    if plan.command:
        entry["command"] = [literal(arg) for arg in plan.command]
    if (health := compose_healthcheck(plan)) is not None:
        entry["healthcheck"] = health
    if plan.published:
        entry["ports"] = _ports(plan, context["ports"].get(service.name))
    if plan.volume:
        entry["volumes"] = [f"{service.name}-data:{plan.data_path}"]
    if depends := compose_depends_on(service, stack):
        entry["depends_on"] = depends
    if service.built_from == service.name:
        entry["build"] = compose_build(service, stack, context["project_dir"], context["tag"])
    elif service.built_from:
        # Runs an image another service builds (imageOf): nothing to pull, it exists once built.
        entry["pull_policy"] = "never"
    return entry


def compose_problems(stack: ResolvedStack) -> list[Problem]:
    """Why the stack cannot be a compose file (none for dev): a value the file cannot hold."""
    problems = config_secret_problems(stack)
    if not stack.settings.builds_images:
        problems.append(Problem("kind", stack.settings.kind.value, "runs the image digests promoted from another "
                                "stack (promotion.fromStack), which a compose file cannot read"))  # fmt: skip
    return problems


def compose_document(
    stack: ResolvedStack,
    project_dir: Path,
    compose_project: str,
    *,
    swap_accounted: bool = True,
    host_ports: Mapping[str, int] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole compose file: every enabled service, its volumes, one network, the CA bundle.

    `swap_accounted`: whether the engine limits swap (else `memswap_limit: -1`, as the program
    asks there); `host_ports`: service -> host port instead of the stack's; `secrets`: the values
    to write (default: generated now, once, by `secret_values`). ComposeRefusal when the stack
    has a value the file cannot hold (compose_problems)."""
    if problems := compose_problems(stack):
        raise ComposeRefusal(stack.settings.stack, problems)
    tag = f"{stack.settings.images.tag}{TAG_SUFFIX}"
    built = {name: f"dockyard/{name}:{tag}" for name in stack.built}
    context = {
        "project_dir": project_dir, "tag": tag, "compose_project": compose_project,
        "images": stack.image_refs(built), "secrets": secret_values(stack) if secrets is None else secrets,
        "swap_accounted": swap_accounted, "ports": dict(host_ports or {}),
    }  # fmt: skip
    document: dict[str, Any] = {
        "name": compose_project,
        "services": {name: compose_service(service, stack, context) for name, service in stack.services.items()},
        "networks": {NETWORK: {"driver": "bridge"}},
        "volumes": {f"{name}-data": {} for name, service in stack.services.items() if service.spec.state},
    }
    if bundle := stack.settings.images.ca_bundle:  # as the program reads it: from the project directory
        document["secrets"] = {CA_BUNDLE_SECRET_ID: {"file": str((project_dir / bundle).expanduser())}}
    return document


def write_compose_file(path: Path, document: Mapping[str, Any], header: str = "") -> None:
    """The document as YAML at `path`, readable by its owner only: it holds the secrets' values."""
    text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    text += yaml.safe_dump(dict(document), sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
