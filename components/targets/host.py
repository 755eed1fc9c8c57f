"""`Host`: what the program asks of the machine it runs on, in one place: the variables the
Docker engine is found by, a client for that engine, the kubeconfig contexts there are.
The program reads `current_host()`; tests hand in their own with `using_host(...)`.
`PreflightError`: what the machine lacks, said before anything is created."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.core.problems import Problem, Refusal
from components.targets.docker.endpoint import DockerEndpoint
from components.targets.docker.engine import DockerEngine
from components.targets.kubernetes.preflight import kubeconfig_contexts


@dataclass(frozen=True)
class Host:
    environ: Callable[[], Mapping[str, str]] = lambda: os.environ
    # endpoint -> a client answering version(), swap_limit(), health(id), remove_container(name)
    connect: Callable[[DockerEndpoint], Any] = DockerEngine
    kube_contexts: Callable[[Iterable[Path]], set[str]] = kubeconfig_contexts


_CURRENT: ContextVar[Host] = ContextVar("dockyard_host", default=Host())  # noqa: B039 (Host is frozen)


def current_host() -> Host:
    return _CURRENT.get()


@contextmanager
def using_host(host: Host) -> Iterator[Host]:
    """Run the program against `host` (a test's engine client, environment, kubeconfig)."""
    token = _CURRENT.set(host)
    try:
        yield host
    finally:
        _CURRENT.reset(token)


class PreflightError(Refusal):
    """What the program's surroundings (engine, cluster access) lack: every problem at once."""

    def __init__(self, stack: str, problems: list[str]):
        super().__init__(
            f"stack '{stack}' cannot be deployed from here; nothing was created",
            [Problem.sentence(p) for p in problems],
        )
