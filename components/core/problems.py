"""The problem vocabulary: one `Problem` per thing wrong, shown safely, and `Refusal`, the one
error every "nothing was created" stop raises (settings, catalog, preflight, promotion).

A `Refusal` is a Pulumi `RunError`: Pulumi prints its message alone, without a traceback.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pulumi.errors import RunError

SHOWN_CHARACTERS = 160
MAX_LISTED_PROBLEMS = 20  # a screenful


class _Unshown:
    """A value a message must not print: a secret, or the value of a misspelt key (which
    may be a secret under the wrong name)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


OMITTED = _Unshown("")
HIDDEN = _Unshown("(value not shown)")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _bounded_repr() -> reprlib.Repr:
    # A value may be anything a file holds, alias-expanded lists and megabyte strings
    # included: a message shows its start and end, never all of it.
    bounded = reprlib.Repr()
    bounded.maxstring, bounded.maxother, bounded.maxlong = SHOWN_CHARACTERS, SHOWN_CHARACTERS, 40
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxdict = 4
    bounded.maxlevel = 2
    return bounded


_REPR = _bounded_repr()


def shown(value: Any) -> str:
    """The value as a message prints it, spelt as in a YAML file (true, not True), at most
    about SHOWN_CHARACTERS long; credentials in a URL are masked."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "(not set)"
    text = _REPR.repr(value)
    if len(text) > SHOWN_CHARACTERS:  # nested containers: reprlib bounds each level, not the sum
        text = f"{text[:SHOWN_CHARACTERS]}…"
    return _URL_CREDENTIALS.sub("***@", text) if isinstance(value, str) else text


@dataclass(frozen=True)
class Problem:
    """What is wrong: the key (as the person wrote it), its value, and what is allowed. A
    problem of the surroundings (no engine answers) has no key: `Problem.sentence(...)`."""

    key: str
    value: Any
    allowed: str

    @classmethod
    def sentence(cls, text: str) -> Problem:
        return cls("", OMITTED, text)

    def __str__(self) -> str:
        return self.text("")

    def text(self, prefix: str) -> str:
        """`<prefix><key> = <value>: <what is allowed>`; the prefix names where the key is."""
        if not self.key:
            return self.allowed
        if self.value is OMITTED:
            return f"{prefix}{self.key}: {self.allowed}"
        return f"{prefix}{self.key} = {shown(self.value)}: {self.allowed}"


def distinct_problems(problems: list[Problem]) -> list[Problem]:
    """One problem per key: a value refused while parsing falls back to its default, and
    a later rule must not then report that default (or anything under the same key)."""
    kept: list[Problem] = []
    keys: set[str] = set()
    for problem in problems:
        if not problem.key:
            kept.append(problem)
            continue
        # The key and each key above it (a.b.c -> a, a.b, a.b.c): linear in the problems.
        parts = problem.key.split(".")
        if not any(".".join(parts[:end]) in keys for end in range(1, len(parts) + 1)):
            kept.append(problem)
            keys.add(problem.key)
    return kept


def problem_lines(problems: Sequence[Problem], prefix: str) -> str:
    """The problems as message lines, at most MAX_LISTED_PROBLEMS and a count of the rest."""
    lines = [f"  - {problem.text(prefix)}" for problem in problems[:MAX_LISTED_PROBLEMS]]
    rest = len(problems) - MAX_LISTED_PROBLEMS
    if rest > 0:
        lines.append(f"  … and {rest:,} more: fix these and run again to see the rest")
    return "\n".join(lines)


class Refusal(RunError, ValueError):
    """Every problem found, in one message: `<headline>:` then one line per problem, each
    key written with `prefix` (where the key lives: `dockyard:`, the catalog's file name)."""

    def __init__(self, headline: str, problems: Sequence[Problem], prefix: str = ""):
        self.problems = list(problems)
        if len(self.problems) == 1 and not self.problems[0].key:  # one reason: one line
            super().__init__(f"{headline}: {self.problems[0].allowed}")
        else:
            super().__init__(f"{headline}:\n{problem_lines(self.problems, prefix)}")
