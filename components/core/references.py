"""Name grammars settings are checked against before anything uses them.

Pure functions, each returning why a value is refused (a sentence) or None:

- image references, per the grammar of github.com/distribution/reference, the package
  Docker parses them with (domain, lower-case path components, tag, digest);
- Kubernetes object names and hosts (RFC 1123), which the API server would refuse;
- fully qualified Pulumi stack names (`<organization>/<project>/<stack>`).
"""

from __future__ import annotations

import ipaddress
import re

# --- image references (distribution/reference regexp.go) ----------------------------------

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH}"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$", re.ASCII)
# What the catalog's schema gives editors for a pinned reference: a tag or a digest (of the
# lengths the digest package accepts), ASCII spelt out (ECMA regexps have no `(?P<`).
_PINNED_DIGEST = "(?:sha256:[0-9a-fA-F]{64}|sha384:[0-9a-fA-F]{96}|sha512:[0-9a-fA-F]{128})"
PINNED_REFERENCE_PATTERN = rf"^{_NAME}(?::{_TAG}(?:@{_PINNED_DIGEST})?|@{_PINNED_DIGEST})$".replace(r"\w", "A-Za-z0-9_")
TAG = re.compile(rf"^{_TAG}$", re.ASCII)
NAME_TOTAL_LENGTH_MAX = 255
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}  # what the digest package accepts

REFERENCE_SHAPE = "[registry-host[:port]/]path[:tag][@sha256:<64 hex>], path in lower case"
# What promotion takes from another stack: repository@sha256:<64 hex>, no tag.
DIGEST_REF = re.compile(rf"^{_NAME}@sha256:[0-9a-f]{{64}}$", re.ASCII)


def is_digest_ref(ref: object) -> bool:
    """`repository@sha256:<64 hex>` exactly: an image pinned by its digest alone."""
    return isinstance(ref, str) and DIGEST_REF.match(ref) is not None


def has_digest(ref: str) -> bool:
    """A reference with a digest (`name[:tag]@sha256:…`): what staging and prod deploy."""
    match = REFERENCE.match(ref)
    return match is not None and match.group("digest") is not None


def _looks_like_domain(component: str) -> bool:
    """Docker's rule: a first component is a registry host when it has a '.' or a ':'
    or is `localhost`; otherwise it is part of the repository path."""
    return "." in component or ":" in component or component == "localhost"


def _shape_hint(value: str) -> str | None:
    """The most likely mistake in a malformed reference or registry, in words."""
    if "://" in value:
        return "no scheme: start with the registry host (registry.example.com/…), not https://"
    if value.endswith("/"):
        return "no trailing '/'"
    if any(char.isspace() for char in value):
        return "no spaces"
    name = value.split("@", 1)[0]
    first, _, rest = name.partition("/")
    path = rest if rest and _looks_like_domain(first) else name
    path = path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path
    if path != path.lower():
        return "the repository path must be lower case"
    return None


def image_reference_problem(value: str, *, pinned: bool = True) -> str | None:
    """Why `value` is not an image reference Docker accepts; with `pinned`, also when it
    names neither a tag nor a digest (it would silently mean `:latest`)."""
    match = REFERENCE.match(value)
    hint = _shape_hint(value)
    if match is None or hint is not None:
        return f"{hint or 'not an image reference'}; expected {REFERENCE_SHAPE}"
    if len(match["name"]) > NAME_TOTAL_LENGTH_MAX:
        return f"the repository name is longer than {NAME_TOTAL_LENGTH_MAX} characters"
    digest = match["digest"]
    if digest:
        algorithm, _, hex_part = digest.partition(":")
        expected = DIGEST_HEX_LENGTHS.get(algorithm)
        if expected is None or len(hex_part) != expected:
            return "a digest is sha256:<64 hex> (or sha384/sha512 with 96/128 hex)"
    if pinned and not match["tag"] and not digest:
        return "pin it with a tag or a digest (for example postgres:17.6-bookworm); without one it means :latest"
    return None


def registry_problem(value: str) -> str | None:
    """Why `value` cannot prefix image names as `<value>/<service>`: it must be a registry
    host, optionally with a port and a lower-case path, and nothing else."""
    hint = _shape_hint(value)
    example = "for example registry.example.com/team, localhost:5000 or docker.io/<user>"
    if hint is not None:
        return f"{hint}; {example}"
    if not re.fullmatch(_NAME, f"{value}/service", re.ASCII):
        return f"must be a registry host[:port] and an optional lower-case path, no tag or digest; {example}"
    if not _looks_like_domain(value.split("/", 1)[0]):
        return f"must start with the registry host (the images are pushed there); {example}"
    if len(value) + 1 + 63 > NAME_TOTAL_LENGTH_MAX:
        return f"too long: <registry>/<service> must stay within {NAME_TOTAL_LENGTH_MAX} characters"
    return None


# --- Kubernetes names ----------------------------------------------------------------------

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_DNS_LABEL}$", re.ASCII)
DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$", re.ASCII)
DNS_SUBDOMAIN_MAX = 253
SUBDOMAIN_RULE = (
    "must be a Kubernetes object name (RFC 1123 subdomain): lower-case letters, digits, '-' and '.',"
    " starting and ending with a letter or digit, at most 253 characters"
)
LABEL_RULE = "must be a DNS label (RFC 1123): lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"


def object_name_problem(value: str) -> str | None:
    if len(value) > DNS_SUBDOMAIN_MAX or not DNS_SUBDOMAIN.match(value):
        return SUBDOMAIN_RULE
    return None


def label_problem(value: str) -> str | None:
    return None if DNS_LABEL.match(value) else LABEL_RULE


def ingress_host_problem(value: str) -> str | None:
    """An Ingress rule's host: a lower-case DNS name (a leading `*.` wildcard allowed),
    not an IP address and without a port, as the API server validates it."""
    rule = (
        "must be a lower-case DNS name such as dockyard.example.com (RFC 1123; a leading '*.' is allowed),"
        " without scheme, port, path or IP address"
    )
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        return rule
    name = value.removeprefix("*.")
    if len(value) > DNS_SUBDOMAIN_MAX or not DNS_SUBDOMAIN.match(name):
        return rule
    return None


# --- Pulumi stack names --------------------------------------------------------------------

_STACK_PART = r"[A-Za-z0-9_.-]{1,100}"
QUALIFIED_STACK = re.compile(rf"^(?P<org>{_STACK_PART})/(?P<project>{_STACK_PART})/(?P<stack>{_STACK_PART})$", re.ASCII)


def qualified_stack_problem(value: str, *, project: str, own_stack: str) -> str | None:
    """Why `value` cannot be the stack a StackReference promotes from."""
    example = f"for example organization/{project}/staging (file backend) or acme/{project}/staging"
    match = QUALIFIED_STACK.match(value)
    if match is None:
        return (
            "must be a fully qualified stack name <organization>/<project>/<stack>"
            f" (letters, digits, '-', '_', '.'); {example}"
        )
    if match["project"] == project and match["stack"] == own_stack:
        return f"names this stack itself: promote from the stack that built and ran the images; {example}"
    return None
