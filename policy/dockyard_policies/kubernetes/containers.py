"""What every container of a workload must declare: a read-only root (or a named opt-out),
CPU and memory requests and limits, ephemeral storage and sized emptyDirs, probes when
long-running (liveness apart from readiness), a pinned image, no literal secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..common import (
    READ_ONLY_ROOT_OPT_OUT,
    as_list,
    as_map,
    dig,
    is_sha256_digest,
    looks_secret_name,
    opt_out_key,
    opt_out_reason,
    split_image_ref,
)
from .workloads import LONG_RUNNING_TYPES, POD, containers_of, pod_of


def read_only_root_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """readOnlyRootFilesystem on every container, unless the object names an opt-out with a reason."""
    pod = pod_of(resource_type, props)
    if pod is None or opt_out_reason(pod.annotations, READ_ONLY_ROOT_OPT_OUT):
        return []
    return [
        f"{c.label}: securityContext.readOnlyRootFilesystem must be true "
        f"(or annotate {opt_out_key(READ_ONLY_ROOT_OPT_OUT)} with a reason)"
        for c in containers_of(pod.spec, ephemeral=False)
        if dig(c.spec, "securityContext", "readOnlyRootFilesystem") is not True
    ]


def resource_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """CPU and memory requests and limits on every container and init container."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec, ephemeral=False):
        resources = as_map(c.spec.get("resources"))
        missing = [
            f"{kind}.{res}"
            for kind in ("requests", "limits")
            for res in ("cpu", "memory")
            if as_map(resources.get(kind)).get(res) in (None, "")
        ]
        if missing:
            out.append(f"{c.label}: resources must set {', '.join(missing)}")
    return out


def ephemeral_storage_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """ephemeral-storage requested and limited on every container and init container, and a
    sizeLimit on every emptyDir: a runaway file gets its own pod evicted, not the node filled."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec, ephemeral=False):
        resources = as_map(c.spec.get("resources"))
        missing = [
            f"{kind}.ephemeral-storage"
            for kind in ("requests", "limits")
            if as_map(resources.get(kind)).get("ephemeral-storage") in (None, "")
        ]
        if missing:
            out.append(f"{c.label}: resources must set {', '.join(missing)}")
    for volume in as_list(pod.spec.get("volumes")):
        volume = as_map(volume)
        if "emptyDir" in volume and as_map(volume.get("emptyDir")).get("sizeLimit") in (None, ""):
            out.append(f'volume "{volume.get("name") or "?"}": emptyDir must set sizeLimit')
    return out


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _handler(probe: Mapping[str, Any]) -> dict[str, Any]:
    return {key: probe[key] for key in _PROBE_HANDLERS if key in probe}


def probe_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Liveness and readiness probes on long-running containers (not Jobs, not init containers),
    and not the same check: a liveness probe that fails when a dependency does restarts healthy pods."""
    pod = pod_of(resource_type, props)
    if pod is None or resource_type not in LONG_RUNNING_TYPES:
        return []
    if resource_type == POD and pod.spec.get("restartPolicy") in ("Never", "OnFailure"):
        return []  # a bare pod that runs to completion
    out = []
    for c in containers_of(pod.spec, init=False, ephemeral=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not as_map(c.spec.get(p))]
        if missing:
            out.append(f"{c.label}: must define {' and '.join(missing)}")
        elif _handler(as_map(c.spec["livenessProbe"])) == _handler(as_map(c.spec["readinessProbe"])):
            out.append(
                f"{c.label}: livenessProbe must not be the readinessProbe's check "
                "(liveness checks the process alone; readiness that it can serve)"
            )
    return out


def image_violations(resource_type: str, props: Mapping[str, Any], require_digests: bool) -> list[str]:
    """Images carry an explicit, non-latest tag (or a digest); with require_digests, a sha256 digest."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec):
        image = c.spec.get("image")
        if not isinstance(image, str) or not image:
            out.append(f"{c.label}: image must be set")
            continue
        _, tag, digest = split_image_ref(image)
        if digest is None and tag is None:
            out.append(f"{c.label}: image {image} has no tag (implies latest); pin a version")
        elif tag == "latest":
            out.append(f"{c.label}: image {image} uses the latest tag; pin a version")
        if require_digests and not is_sha256_digest(digest):
            out.append(f"{c.label}: image {image} must be pinned by digest (@sha256:<64 hex>)")
    return out


def env_secret_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No literal values for secret-looking env names; use valueFrom (secretKeyRef) or a *_FILE path."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec):
        for env in as_list(c.spec.get("env")):
            env = as_map(env)
            value = env.get("value")
            if looks_secret_name(env.get("name")) and isinstance(value, str) and value:
                out.append(
                    f"{c.label}: env {env.get('name')} looks secret but has a literal value; "
                    "use valueFrom.secretKeyRef or a mounted file"
                )
    return out
