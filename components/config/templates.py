"""The env template grammar, one definition for the loader, the rules and the renderers:
`{host:svc}` (the service's network name), `{port:svc}` (its port) and `{secret:name}` (a
declared secret; any variable that uses one is a secret as a whole)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

PLACEHOLDER_KINDS = ("host", "port", "secret")


PLACEHOLDER_FORMS = "{host:svc}, {port:svc} or {secret:name}"


_PLACEHOLDER = re.compile(r"\{(host|port|secret):([a-z](?:[a-z0-9-]{0,38}[a-z0-9])?)\}")


# What a reader takes for a placeholder: a brace, a word, a colon, up to the closing brace
# (or the next brace, or the end, when it is not closed). `${VAR:-x}` is the shell's, not
# ours; `{"a": 1}` (JSON) does not start with a word.
_LOOKS_LIKE = re.compile(r"(?<!\$)\{\s*[A-Za-z_][A-Za-z0-9_-]*\s*:[^{}]*\}?")


class Placeholder(NamedTuple):
    kind: str
    name: str


def placeholder_problem(text: str) -> str:
    """Why `text`, which looks like a placeholder, is not one (in the author's terms)."""
    inner = text[1:-1] if text.endswith("}") else text[1:]
    kind, _, name = inner.partition(":")
    if not text.endswith("}"):
        why = "it is not closed with '}'"
    elif inner != inner.strip() or kind != kind.strip() or name != name.strip():
        why = "no spaces inside the braces"
    elif kind.lower() in PLACEHOLDER_KINDS and kind != kind.lower():
        why = "kinds are written in lower case"
    elif kind not in PLACEHOLDER_KINDS:
        why = f"there is no kind '{kind}'"
    else:
        why = f"'{name}' is not a name: lower-case letters, digits and '-', starting with a letter"
    # The spelling it was most likely meant as, when tidying it gives a placeholder.
    tidy = f"{{{kind.strip().lower()}:{name.strip().lower().replace('_', '-')}}}"
    meant = f" ({tidy}?)" if _PLACEHOLDER.fullmatch(tidy) else ""
    return f"{text} is not a placeholder ({why}): write {PLACEHOLDER_FORMS} exactly{meant}"


def template_grammar_problems(value: str) -> list[str]:
    """One sentence per part of `value` that looks like a placeholder and does not parse."""
    return [
        placeholder_problem(match.group())
        for match in _LOOKS_LIKE.finditer(value)
        if not _PLACEHOLDER.fullmatch(match.group())
    ]


def placeholders(value: str) -> list[Placeholder]:
    """The (kind, name) pairs a template refers to, e.g. [("host", "redis")]. Text that only
    looks like a placeholder is not one: template_grammar_problems refuses it."""
    return [Placeholder(kind, name) for kind, name in _PLACEHOLDER.findall(value)]


def secret_names(value: str) -> list[str]:
    """The secrets a template names, in order: `{secret:a}…{secret:b}` -> ["a", "b"]."""
    return [name for kind, name in placeholders(value) if kind == "secret"]


def render_template(value: str, hosts: Mapping[str, str], ports: Mapping[str, int]) -> str:
    """Fill `{host:…}` and `{port:…}`; `{secret:…}` is left for the caller (it is an Output)."""

    def fill(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "host":
            return hosts[name]
        if kind == "port":
            return str(ports[name])
        return match.group(0)

    return _PLACEHOLDER.sub(fill, value)
