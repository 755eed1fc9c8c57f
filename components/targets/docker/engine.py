"""`DockerEngine`: the client for the program's own Engine API questions (the maintained
`docker` SDK), on the endpoint endpoint.py resolved (the same one the Docker provider uses)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from components.targets.docker.endpoint import (
    API_VERSION,
    TIMEOUT_SECONDS,
    DockerEndpoint,
    EngineSelectionError,
    given_endpoint,
    resolve_endpoint,
)


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
    """The program's own Engine API questions (version, swap accounting, container health) and the
    removal of a failed one-shot container, through the docker SDK on the resolved endpoint: unix,
    tcp with or without TLS, ssh (through the `ssh` client, as the docker CLI and the provider do)."""

    def __init__(self, endpoint: DockerEndpoint | str):
        self.endpoint = endpoint if isinstance(endpoint, DockerEndpoint) else given_endpoint(endpoint)
        self.host = self.endpoint.host
        self._api = None

    def _client(self):
        import docker  # the SDK is needed only where an engine is asked
        import urllib3
        from docker.errors import DockerException

        if self._api is not None:
            return self._api
        endpoint = self.endpoint
        tls: Any = False
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

    def _ask(self, question, *args, **kwargs):
        from docker.errors import DockerException, NotFound
        from requests.exceptions import RequestException

        try:
            return question(self._client(), *args, **kwargs)
        except NotFound:
            raise
        except (DockerException, RequestException) as error:
            raise EngineUnreachable(_reason(error, self.endpoint)) from error

    def version(self) -> dict[str, Any]:
        """The engine's /version, unversioned: an engine older than API_VERSION answers it too."""
        return self._ask(lambda api: api.version(api_version=False))

    def info(self) -> dict[str, Any]:
        return self._ask(lambda api: api.info())

    def swap_limit(self) -> bool:
        """Whether the kernel accounts swap: without it Docker stores MemorySwap -1 whatever is asked."""
        return bool(self.info().get("SwapLimit", False))

    def health(self, container_id: str) -> str:
        """`healthy`, `unhealthy`, `starting`, or the container's state when it has no health check."""
        state = self._ask(lambda api: api.inspect_container(container_id)).get("State") or {}
        health = state.get("Health") or {}
        return str(health.get("Status") or state.get("Status") or "unknown")

    def remove_container(self, name: str) -> None:
        """Remove a stopped container; one that is already gone is fine."""
        from docker.errors import NotFound

        try:
            self._ask(lambda api: api.remove_container(name, force=True))
        except NotFound:
            pass

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
