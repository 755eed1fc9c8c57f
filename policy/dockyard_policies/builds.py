"""Rules for BuildKit image builds (pulumi-docker-build `docker-build:index:Image`).

Props: tags [...], push, registries [{address, username, password}], buildArgs {k: v},
cacheFrom [...], cacheTo [{registry: {...}} | {local: {...}} | ...], secrets {...}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import as_list, as_map, looks_secret_name, split_image_ref

IMAGE = "docker-build:index:Image"


def _applies(resource_type: str) -> bool:
    return resource_type == IMAGE


def tag_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A pushed image has at least one tag, and none is `latest` (explicit or implied)."""
    if not _applies(resource_type) or props.get("push") is not True:
        return []
    tags = [t for t in as_list(props.get("tags")) if isinstance(t, str) and t]
    if not tags:
        return ["image is pushed without tags; tag it with a version"]
    out = []
    for ref in tags:
        _, tag, digest = split_image_ref(ref)
        if tag == "latest":
            out.append(f"tag {ref} uses latest; push a version tag")
        elif tag is None and digest is None:
            out.append(f"tag {ref} has no tag part (implies latest); push a version tag")
    return out


def _names_registry_host(tag: str) -> bool:
    """`registry.example.com/team/app:1` does; `dockyard/app:1` (Docker Hub by default) does not."""
    first, sep, _ = str(tag).partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def registry_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """push: true must say where to: a registries entry, or tags that name a registry host
    (credentials then come from the builder's docker login, e.g. a CI login step)."""
    if not _applies(resource_type) or props.get("push") is not True:
        return []
    if any(as_map(r).get("address") for r in as_list(props.get("registries"))):
        return []
    unqualified = [str(tag) for tag in as_list(props.get("tags")) if not _names_registry_host(tag)]
    if unqualified or not as_list(props.get("tags")):
        return [
            f"image is pushed but no registry is named: tags {unqualified} name no registry host "
            "and registries is empty"
        ]
    return []


def build_arg_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Build args land in image metadata: secret-looking ones must be BuildKit secrets instead."""
    if not _applies(resource_type):
        return []
    return [
        f"build arg {name} looks secret; pass it as a BuildKit secret (secrets), not a build arg"
        for name in as_map(props.get("buildArgs"))
        if looks_secret_name(name)
    ]


def cache_violations(resource_type: str, props: Mapping[str, Any], require_registry_cache: bool) -> list[str]:
    """CI builds export their layer cache to a registry so the next run reuses it."""
    if not _applies(resource_type) or not require_registry_cache:
        return []
    if any(as_map(entry).get("registry") for entry in as_list(props.get("cacheTo"))):
        return []
    return ["cacheTo must include a registry cache entry ({registry: {ref: ...}}) on this stack"]
