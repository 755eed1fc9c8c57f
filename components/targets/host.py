"""`Host`: what a test may put in place of the machine the program runs on, in one place: the
variables the Docker engine is found by, a client for that engine, the kubeconfig contexts there
are. A field left `None` means the machine's own, which each target supplies itself
(docker/preflight.py: `DockerEngine`; kubernetes/preflight.py: `kubeconfig_contexts`), so this
module, shared by every target, imports none of them.
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


@dataclass(frozen=True)
class Host:
    environ: Callable[[], Mapping[str, str]] = lambda: os.environ
    # a Docker endpoint -> a client answering version(), swap_limit(), health(id), remove_container(name)
    connect: Callable[[Any], Any] | None = None
    # kubeconfig files -> the context names they hold
    kube_contexts: Callable[[Iterable[Path]], set[str]] | None = None


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
