"""Checks of what the program drives, made before any resource is registered.

- The Docker engine: the Docker provider sends health checks with `start_interval`,
  which engines below API 1.44 (Docker Engine 25) refuse, so an older engine would
  fail on the first container after the network and volumes already exist.
- The kubeconfig context a Kubernetes stack names: without it the provider falls back
  to warnings at preview and fails at `up`, after images were built and pushed.

Each check returns a list of problems (empty when fine) for the one validation report.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pulumi.errors import RunError

MIN_DOCKER_API = (1, 44)
MIN_DOCKER_ENGINE = "25.0"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_TIMEOUT_SECONDS = 5


class PreflightError(RunError, RuntimeError):
    """What the program's surroundings (engine, cluster access) lack: every problem at once.
    A RunError: Pulumi prints the message alone, without a traceback."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack '{stack}' cannot be deployed from here; nothing was created:\n{lines}")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=_TIMEOUT_SECONDS)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(_TIMEOUT_SECONDS)
        self.sock.connect(self._path)


class DockerEngine:
    """A few read-only questions to the Docker Engine API the Docker provider talks to."""

    def __init__(self, host: str):
        self.host = host
        self._parts = urlsplit(host)

    def _connection(self) -> http.client.HTTPConnection:
        if self._parts.scheme not in ("unix", "tcp", "http"):
            raise ValueError(f"cannot query an engine at {self.host!r} (only unix:// and tcp:// without TLS)")
        if self._parts.scheme == "unix":
            return _UnixConnection(self._parts.path)
        return http.client.HTTPConnection(self._parts.hostname or "localhost", self._parts.port or 2375, timeout=_TIMEOUT_SECONDS)

    def get(self, path: str) -> dict[str, Any]:
        """The JSON answer to `GET path`; OSError when the engine does not answer 200."""
        status, body = self._request("GET", path)
        if status != 200:
            raise OSError(f"{self.host} answered GET {path} with HTTP {status}")
        return json.loads(body)

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        connection = self._connection()
        try:
            connection.request(method, path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def remove_container(self, name: str) -> None:
        """Remove a stopped container; one that is already gone is fine."""
        status, body = self._request("DELETE", f"/containers/{name}?force=true")
        if status not in (204, 404):
            raise OSError(f"{self.host} answered DELETE /containers/{name} with HTTP {status}: {body[:200]!r}")

    def version(self) -> dict[str, Any]:
        return self.get("/version")

    def swap_limit(self) -> bool:
        """Whether the kernel accounts swap: without it Docker stores MemorySwap -1 whatever is asked."""
        return bool(self.get("/info").get("SwapLimit", False))

    def health(self, container_id: str) -> str:
        """`healthy`, `unhealthy`, `starting`, or the container's state when it has no health check."""
        state = self.get(f"/containers/{container_id}/json").get("State") or {}
        health = state.get("Health") or {}
        return str(health.get("Status") or state.get("Status") or "unknown")


def _api_tuple(api_version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in api_version.split("."))
    except ValueError:
        return (0,)


def docker_engine_problems(engine: DockerEngine) -> list[str]:
    """Why `engine` cannot run this stack's containers, or []."""
    try:
        found = engine.version()
    except (OSError, ValueError) as error:
        return [
            f"no Docker engine answers at {engine.host} ({error}); "
            "start Docker (or set DOCKER_HOST / `pulumi config set docker:host …`)"
        ]
    api = str(found.get("ApiVersion", "0"))
    if _api_tuple(api) < MIN_DOCKER_API:
        minimum = ".".join(map(str, MIN_DOCKER_API))
        return [
            f"the Docker engine at {engine.host} is {found.get('Version', '?')} (API {api}); dockyard needs "
            f"Docker Engine {MIN_DOCKER_ENGINE} or newer (API {minimum}), which the Docker provider needs "
            "for health-check start intervals. Upgrade Docker"
        ]
    return []


def docker_host(provider_host: str | None) -> str:
    """The engine the Docker provider will talk to: `docker:host`, else DOCKER_HOST, else the default socket."""
    return provider_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


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
