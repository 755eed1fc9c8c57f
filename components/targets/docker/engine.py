"""`DockerEngine`: the client for the program's own Engine API questions (the maintained
`docker` SDK), on the endpoint endpoint.py resolved (the same one the Docker provider uses)."""

from __future__ import annotations

import re
import socket
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from components.core.labels import STACK_LABEL
from components.targets.docker.endpoint import (
    API_VERSION,
    TIMEOUT_SECONDS,
    DockerEndpoint,
    EngineSelectionError,
    given_endpoint,
    resolve_endpoint,
)
from components.targets.docker.machine import free_bytes, loopback_port_in_use

if TYPE_CHECKING:  # the SDK itself is imported only where an engine is asked (DockerEngine._client)
    from docker import APIClient

_Answer = TypeVar("_Answer")


@dataclass(frozen=True)
class PortHolder:
    """A running container that publishes a host port: its name and its stack label (None: not
    a dockyard stack's)."""

    container: str
    stack: str | None


class EngineUnreachable(OSError):
    """The engine did not answer (refused, TLS, ssh, timeout): the reason in a few words."""


_REASONS = (
    r"\[SSL: [A-Z_]+\] [^('\")]+",  # TLS: CERTIFICATE_VERIFY_FAILED, …
    r"\[Errno -?\d+\] [^('\")]+",  # Connection refused, Name or service not known, …
    r"Error\(\d+, '([^']+)'\)",  # FileNotFoundError(2, 'No such file or directory'): a socket that is not there
    r"Read timed out|timed out",
)


def _reason(error: BaseException, endpoint: DockerEndpoint) -> str:
    """What went wrong, in a few words, from the SDK's (requests') nested error text."""
    text = str(error)
    if endpoint.scheme == "ssh" and re.search(
        r"closed connection without response|Broken pipe|Connection aborted", text
    ):
        parts = urlsplit(endpoint.host)
        port = f"-p {parts.port} " if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return (
            f"ssh gave no answer (its own message is above): check that "
            f"`ssh {port}{user}{parts.hostname} docker system dial-stdio` connects with no prompt "
            "(key, known_hosts) and that the remote user can run docker"
        )
    for pattern in _REASONS:
        match = re.search(pattern, text)
        if match:
            return (match.group(1) if match.groups() else match.group(0)).strip().rstrip(":")
    return text if len(text) <= 300 else text[:300] + "…"


class DockerEngine:
    """The program's own Engine API questions (version, swap accounting, container health, state and
    logs, published ports, free space of its root on this machine) and the stop or removal of a
    failed container, through the docker SDK on the resolved endpoint: unix,
    tcp with or without TLS, ssh (through the `ssh` client, as the docker CLI and the provider do)."""

    def __init__(self, endpoint: DockerEndpoint | str):
        self.endpoint = endpoint if isinstance(endpoint, DockerEndpoint) else given_endpoint(endpoint)
        self.host = self.endpoint.host
        self._api: APIClient | None = None
        self._info: dict[str, Any] | None = None

    def _client(self) -> APIClient:
        import docker  # the SDK is needed only where an engine is asked
        import urllib3
        from docker.errors import DockerException

        if self._api is not None:
            return self._api
        endpoint = self.endpoint
        tls: docker.tls.TLSConfig | bool = False
        if endpoint.tls is not None:
            tls = docker.tls.TLSConfig(
                client_cert=(str(endpoint.tls.cert), str(endpoint.tls.key)),
                ca_cert=str(endpoint.tls.ca) if endpoint.tls.ca else None,
                verify=endpoint.tls.verify,
            )
        try:
            # "auto": the API version the engine speaks (an old engine still answers /version).
            # Requests go to /v1.44/… (the oldest API the stack runs on: an older engine is refused by
            # the preflight, which asks the unversioned /version); no request is made here.
            api = docker.APIClient(
                base_url=endpoint.host,
                version=API_VERSION,
                timeout=TIMEOUT_SECONDS,
                tls=tls,
                use_ssh_client=endpoint.scheme == "ssh",
            )
        except DockerException as error:
            raise EngineUnreachable(_reason(error, self.endpoint)) from error
        if endpoint.tls is not None:
            # requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the engine's CA: only ca.pem counts.
            api.trust_env = False
            if not endpoint.tls.verify:  # DOCKER_TLS or SkipTLSVerify, chosen by the user: said once, in describe()
                warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        self._api = api
        return api

    def _ask(self, question: Callable[[APIClient], _Answer]) -> _Answer:
        from docker.errors import DockerException, NotFound
        from requests.exceptions import RequestException

        try:
            return question(self._client())
        except NotFound:
            raise
        except (DockerException, RequestException) as error:
            raise EngineUnreachable(_reason(error, self.endpoint)) from error

    def version(self) -> dict[str, Any]:
        """The engine's /version, unversioned: an engine older than API_VERSION answers it too."""
        return self._ask(lambda api: api.version(api_version=False))

    def info(self) -> dict[str, Any]:
        """The engine's /info, asked once (swap accounting, its name, its root directory)."""
        if self._info is None:
            self._info = self._ask(lambda api: api.info())
        return self._info

    def swap_limit(self) -> bool:
        """Whether the kernel accounts swap: without it Docker stores MemorySwap -1 whatever is asked."""
        return bool(self.info().get("SwapLimit", False))

    def health(self, container_id: str) -> str:
        """`healthy`, `unhealthy`, `starting`, or the container's state when it has no health check."""
        state = self._ask(lambda api: api.inspect_container(container_id)).get("State") or {}
        health = state.get("Health") or {}
        return str(health.get("Status") or state.get("Status") or "unknown")

    def state(self, container_id: str) -> dict[str, Any]:
        """The container's `State` (Status, ExitCode, Restarting, Health…) and its `RestartCount`."""
        inspected = self._ask(lambda api: api.inspect_container(container_id))
        return {**(inspected.get("State") or {}), "RestartCount": inspected.get("RestartCount", 0)}

    def log_tail(self, container_id: str, lines: int) -> str:
        """The container's last `lines` lines of output (stdout and stderr), or "" when it has none."""
        from docker.errors import NotFound

        try:
            raw = self._ask(lambda api: api.logs(container_id, stdout=True, stderr=True, tail=lines))
        except NotFound:
            return ""
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

    def stop_container(self, name: str, grace_seconds: int = 10) -> None:
        """Stop a container (its restart policy then leaves it stopped); one that is gone is fine."""
        from docker.errors import NotFound

        try:
            self._ask(lambda api: api.stop(name, timeout=grace_seconds))
        except NotFound:
            pass

    def published_ports(self) -> dict[int, PortHolder]:
        """Host port -> the running container that publishes it (on any host address)."""
        held: dict[int, PortHolder] = {}
        for listed in self._ask(lambda api: api.containers()):
            name = (listed.get("Names") or ["?"])[0].lstrip("/")
            stack = (listed.get("Labels") or {}).get(STACK_LABEL)
            for port in listed.get("Ports") or []:
                if port.get("PublicPort") and port.get("Type", "tcp") == "tcp":
                    held[int(port["PublicPort"])] = PortHolder(name, stack)
        return held

    def on_this_machine(self) -> bool:
        """Whether the engine runs here, so that its published ports are this machine's and its
        root directory is this machine's disk: a unix socket (or tcp on loopback) to an engine
        whose name is this host's (Docker Desktop's VM has a name of its own)."""
        parts = urlsplit(self.endpoint.host)
        if parts.scheme == "ssh" or (parts.scheme == "tcp" and parts.hostname not in ("127.0.0.1", "localhost", "::1")):
            return False
        return str(self.info().get("Name", "")) == socket.gethostname()

    def port_in_use(self, port: int) -> bool | None:
        """Whether something listens on 127.0.0.1:`port` of the engine's machine (None: not known,
        the engine runs elsewhere)."""
        return loopback_port_in_use(port) if self.on_this_machine() else None

    def root_dir(self) -> str:
        return str(self.info().get("DockerRootDir") or "/var/lib/docker")

    def free_bytes(self, path: str) -> int | None:
        """Free bytes for unprivileged writes on the filesystem of `path` on the engine's machine
        (None: not known, the engine runs elsewhere or the path is not there)."""
        return free_bytes(path) if self.on_this_machine() else None

    def remove_container(self, name: str) -> None:
        """Remove a stopped container; one that is already gone is fine."""
        from docker.errors import NotFound

        try:
            self._ask(lambda api: api.remove_container(name, force=True))
        except NotFound:
            pass

    def remove_leftover(self, kind: str, name: str, stack: str, grace_seconds: int) -> bool:
        """Remove the container or network `name` when it carries `stack`'s label (a container is
        stopped first, with its grace period); True when something was removed. Anything else of
        that name, or nothing, is left as it is."""
        from docker.errors import NotFound

        from components.core.labels import STACK_LABEL

        inspect = {
            "container": lambda api: api.inspect_container(name),
            "network": lambda api: api.inspect_network(name),
        }
        try:
            found = self._ask(inspect[kind])
        except NotFound:
            return False
        labels = (found.get("Config") or {}).get("Labels") if kind == "container" else found.get("Labels")
        if (labels or {}).get(STACK_LABEL) != stack:
            return False
        try:
            if kind == "container":
                self._ask(lambda api: api.stop(name, timeout=grace_seconds))
                self._ask(lambda api: api.remove_container(name, force=True))
            else:
                self._ask(lambda api: api.remove_network(name))
        except NotFound:
            pass
        return True

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def engine_line(stack_config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> str:
    """One line for a person, before anything runs: which engine and where it came from, or why none."""
    try:
        return resolve_endpoint(stack_config, env).describe()
    except EngineSelectionError as error:
        return "no Docker engine: " + "; ".join(error.problems)
