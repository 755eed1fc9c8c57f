"""Plain-data helpers shared by every policy domain.

The policy server hands us read-only Mapping/Sequence proxies (which raise on values unknown
during preview); tests hand us dicts and lists. These helpers accept both and never mutate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

# The program's label vocabulary as the rules read it. The pack runs in its own virtualenv and
# never imports the program, so it keeps its own copy: here, once, for every domain.
OPT_OUT_PREFIX = "opt-out.dockyard.dev/"  # + a rule name; the value is the reason
READ_ONLY_ROOT_OPT_OUT = "read-only-root"
CAPABILITIES_OPT_OUT = "capabilities"
ONE_SHOT_LABEL = "dockyard.dev/one-shot"  # "true" on a run-to-completion container

# Substrings that make a variable/arg name look like it carries a credential.
SECRET_NAME_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
# `<NAME>_FILE` holds a path to a mounted secret (the app contract), not the secret itself.
SECRET_FILE_SUFFIX = "_FILE"  # nosec B105 -- the suffix of a variable name (<NAME>_FILE), not a password


class Finding(NamedTuple):
    """A stack-level violation: the message and the URN of the offending resource (or None)."""

    message: str
    urn: str | None = None


class StackResource(NamedTuple):
    """One resource as a stack policy sees it: type token, Pulumi name, input props, URN."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str | None = None


def as_map(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty mapping (absent/None fields read as empty)."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> Sequence[Any]:
    """`value` when it is a list-like (not a string), else an empty tuple."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return ()


def dig(value: Any, *path: str) -> Any:
    """Follow mapping keys; None as soon as one is missing."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def looks_secret_name(name: Any) -> bool:
    """True when a variable name suggests a credential (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL)."""
    if not isinstance(name, str):
        return False
    upper = name.upper()
    if upper.endswith(SECRET_FILE_SUFFIX):
        return False
    return any(marker in upper for marker in SECRET_NAME_MARKERS)


def opt_out_key(rule: str) -> str:
    """The label/annotation key that opts out of `rule`: `opt-out.dockyard.dev/<rule>`."""
    return OPT_OUT_PREFIX + rule


def opt_out_reason(annotations: Mapping[str, Any], rule: str) -> str | None:
    """The non-empty reason given under `opt_out_key(rule)`, else None.

    An opt-out without a reason does not count: the reason is what a reviewer reads.
    """
    reason = as_map(annotations).get(opt_out_key(rule))
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    return None


def split_image_ref(ref: str) -> tuple[str, str | None, str | None]:
    """Split `name[:tag][@digest]` into (name, tag, digest); a registry port is not a tag."""
    name, _, digest = ref.partition("@")
    tag = None
    last_slash = name.rfind("/")
    last_colon = name.rfind(":")
    if last_colon > last_slash:
        name, tag = name[:last_colon], name[last_colon + 1 :]
    return name, (tag or None), (digest or None)


def is_sha256_digest(digest: str | None) -> bool:
    if not digest or not digest.startswith("sha256:"):
        return False
    hex_part = digest[len("sha256:") :]
    return len(hex_part) == 64 and all(c in "0123456789abcdef" for c in hex_part)


def config_flag(config: Mapping[str, Any] | None, key: str, default: bool) -> bool:
    """A boolean policy-config value; the schema default when the key is absent."""
    value = as_map(config).get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"policy config {key!r} must be true or false, got {value!r}")
    return value
