"""`collection_paused`: the cyclic garbage collector paused while a catalog is read, checked
and resolved.

Those steps build hundreds of thousands of acyclic objects (YAML nodes, values, models,
resolved services), and each collection of the oldest generation walks every one of them:
half the CPU time of a 10,000-service catalog went there. Nothing in those steps makes a
reference cycle; what becomes garbage is freed by reference counting as usual, and the
collector runs again as soon as they return.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def _paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collection_paused(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with _paused():
            return function(*args, **kwargs)

    return paused
