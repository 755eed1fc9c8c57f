"""`ensured`: a value the checks before this point made sure is set, typed as set. The catalog's and
the settings' rules run before anything is resolved (plan/validate.py), so a field they require
(a port a service talks to, the state of a StatefulSet, the build of a built image) is optional in
the models but never None where the plan and the targets read it. A None there is a bug in
dockyard, not in the user's files: it fails at once, naming the fact and the rule that should have
held, instead of as an AttributeError deeper in."""

from __future__ import annotations

from typing import TypeVar

_Value = TypeVar("_Value")


def ensured(value: _Value | None, fact: str) -> _Value:
    """`value` when set; else a RuntimeError saying which `fact` (e.g. "service 'db' has a port, as
    talksTo requires") did not hold."""
    if value is None:
        raise RuntimeError(f"dockyard bug: expected {fact}, as the checks before this point make sure, but it is unset")
    return value
