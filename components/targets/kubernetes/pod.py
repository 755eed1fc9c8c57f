"""The pod a catalog service runs as on Kubernetes: labels, containers, probes, security,
volumes and spread. Plain Kubernetes API dicts (camelCase), computed from a resolved
`Service`; values that are Outputs (image, Secret name) arrive in `WorkloadInputs`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.config.catalog import MEMORY_BACKED_PATHS, OPT_OUT_READ_ONLY_ROOT, Check, Health, ServiceSpec
from components.config.settings import Settings, StackKind
from components.core.durations import duration_nanos
from components.core.invariants import ensured
from components.core.labels import (
    IMAGE_REVISION_ANNOTATION,
    NAME_LABEL,
    OPT_OUT_PREFIX,
    PART_OF,
    PART_OF_LABEL,
    PROMETHEUS_PATH,
    PROMETHEUS_PORT,
    PROMETHEUS_SCRAPE,
    PROMOTED_FROM_ANNOTATION,
    STACK_LABEL,
)
from components.core.names import (
    SECRET_DIR,
    SECRETS_VOLUME,
    STATE_VOLUME,
    secret_file_env,
    secret_file_path,
    writable_volume_name,
)
from components.core.quantities import half_cpu, half_memory
from components.plan.resolve import Service
from components.targets.kubernetes.manifest import Manifest

SECRET_FILE_MODE = 0o440  # owner root, group fsGroup: readable by the pod's group only
# Probe cadence once started (Kubernetes' own: how soon a failing pod leaves its Service's
# endpoints, 3 x 5 s, and how soon a hung one is restarted, 3 x 10 s); each probe's timeout
# and the startup budget come from the catalog's health timing.
READINESS_PERIOD_SECONDS = 5
LIVENESS_PERIOD_SECONDS = 10
PROBE_FAILURES = 3

PRE_STOP_SLEEP_SECONDS = 5  # lets endpoints and the ingress stop sending traffic first
APP_GRACEFUL_SECONDS = 20  # what the apps take to drain (uvicorn --timeout-graceful-shutdown)
TERMINATION_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + APP_GRACEFUL_SECONDS + 5  # + margin for SIGKILL


def _user_ids(spec: ServiceSpec) -> tuple[int, int]:
    user, _, group = spec.user.partition(":")
    return int(user), int(group or user)


def selector_labels(service: str) -> dict[str, str]:
    return {NAME_LABEL: service, PART_OF_LABEL: PART_OF}


def object_labels(service: str, settings: Settings) -> dict[str, str]:
    return {**selector_labels(service), STACK_LABEL: settings.stack}


def http_port_name(spec: ServiceSpec) -> str:
    """`http` where a probe GETs a path on the port, else `tcp`."""
    return "http" if spec.health and (spec.health.liveness_path or spec.health.readiness_path) else "tcp"


@dataclass(frozen=True)
class WorkloadInputs:
    """Values the pod template needs that may be Outputs."""

    image: Any
    image_pull_policy: str
    config_map: Any | None = None  # name of the plain-env ConfigMap
    secret: Any | None = None  # name of the secret-env Secret
    image_revision: Any | None = None  # the built image's ID where the ref is a reused tag (Minikube)


def image_pull_policy(service: Service, settings: Settings) -> str:
    """Dev: built images exist only in Minikube's Docker daemon (Never pulls them),
    upstream ones are pulled once. Elsewhere: Always, so every pod start checks the
    registry credentials; the digest makes the pull itself a no-op when cached."""
    if settings.kind is StackKind.DEV:
        return "IfNotPresent" if service.upstream_image is not None else "Never"
    return "Always"


def _probe_handler(spec: ServiceSpec, check: Check) -> Manifest:
    if check.path is not None:
        return {"httpGet": {"path": check.path, "port": http_port_name(spec)}}
    command = ensured(check.command, "a check without a path to have a command (exactly one of the two)")
    return {"exec": {"command": list(command)}}


def _whole_seconds(duration: str) -> int:
    """A catalog duration in the whole seconds a probe takes (at least 1, Kubernetes' minimum)."""
    return max(1, math.ceil(duration_nanos(duration) / 10**9))


def startup_budget_seconds(health: Health) -> int:
    """How long the service may take to start: Docker's patience before it calls the container
    unhealthy (startPeriod, then `retries` failed checks `interval` apart), so both targets give a
    slow start the same time."""
    nanos = duration_nanos(health.start_period) + health.retries * duration_nanos(health.interval)
    return math.ceil(nanos / 10**9)


def probes(spec: ServiceSpec) -> Manifest:
    """The catalog's checks as probes: readiness (it can serve: gates the Service's endpoints),
    liveness (the process alone: restarts it) and a startup probe on the liveness check that
    holds both off while the service starts, polled every startInterval (at least 1 s) for the
    startup budget. Without a liveness check, readiness only: the kubelet restarts the container
    when it exits."""
    if spec.health is None or spec.one_shot:
        return {}
    health = spec.health
    timeout = _whole_seconds(health.timeout)
    result = {
        "readinessProbe": {
            **_probe_handler(spec, health.readiness),
            "periodSeconds": READINESS_PERIOD_SECONDS,
            "failureThreshold": PROBE_FAILURES,
            "timeoutSeconds": timeout,
        },
    }
    if health.liveness is None:
        return result
    live = _probe_handler(spec, health.liveness)
    poll = _whole_seconds(health.start_interval)
    result["startupProbe"] = {
        **live,
        "periodSeconds": poll,
        "failureThreshold": math.ceil(startup_budget_seconds(health) / poll),
        "timeoutSeconds": timeout,
    }
    result["livenessProbe"] = {
        **live,
        "periodSeconds": LIVENESS_PERIOD_SECONDS,
        "failureThreshold": PROBE_FAILURES,
        "timeoutSeconds": timeout,
    }
    return result


def resources(spec: ServiceSpec) -> Manifest:
    # Requests are half the limits: the scheduler reserves a typical load, the limit
    # caps a burst. Memory over the request is the first to be reclaimed under pressure.
    # Ephemeral storage (logs, the disk-backed writable paths) likewise: a runaway file gets this
    # pod evicted at its limit instead of filling the node and getting its neighbours evicted.
    return {
        "requests": {
            "cpu": half_cpu(spec.resources.cpu),
            "memory": half_memory(spec.resources.memory),
            "ephemeral-storage": half_memory(spec.ephemeral_storage),
        },
        "limits": {
            "cpu": spec.resources.cpu,
            "memory": spec.resources.memory,
            "ephemeral-storage": spec.ephemeral_storage,
        },
    }


def _run_as(spec: ServiceSpec) -> Manifest:
    """Who the pod and its container run as: the catalog's user, never root, default seccomp."""
    uid, gid = _user_ids(spec)
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context(spec: ServiceSpec) -> Manifest:
    return {
        **_run_as(spec),
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": OPT_OUT_READ_ONLY_ROOT not in spec.opt_outs,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security_context(spec: ServiceSpec) -> Manifest:
    return {
        **_run_as(spec),
        "fsGroup": spec.fs_group if spec.fs_group is not None else _user_ids(spec)[1],
        "fsGroupChangePolicy": "OnRootMismatch",  # no recursive chown of a big data volume on every start
    }


def writable_volumes(spec: ServiceSpec) -> tuple[list[Manifest], list[Manifest]]:
    """(volumes, mounts): an emptyDir per writable path, of the catalog's writableSize (the Docker
    target's tmpfs size); the root filesystem is read-only. Past its sizeLimit the pod is evicted."""
    volumes, mounts = [], []
    for path in spec.writable_paths:
        name = writable_volume_name(path)
        empty_dir = {"sizeLimit": spec.writable_size}
        if path in MEMORY_BACKED_PATHS:
            empty_dir["medium"] = "Memory"
        volumes.append({"name": name, "emptyDir": empty_dir})
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def env_entries(service: Service) -> list[Manifest]:
    """Secrets arrive as files: `<NAME>_FILE` points at the mounted Secret key."""
    return [{"name": secret_file_env(name), "value": secret_file_path(name)} for name in service.secret_env]


def _lifecycle(spec: ServiceSpec) -> Manifest:
    if spec.one_shot:
        return {}
    return {"lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}}}


def container(service: Service, inputs: WorkloadInputs) -> Manifest:
    spec = service.spec
    _, mounts = writable_volumes(spec)
    if service.secret_env:
        mounts.append({"name": SECRETS_VOLUME, "mountPath": SECRET_DIR, "readOnly": True})
    if spec.state is not None:
        mounts.append({"name": STATE_VOLUME, "mountPath": spec.state.path})
    result: dict[str, Any] = {
        "name": spec.name,
        "image": inputs.image,
        "imagePullPolicy": inputs.image_pull_policy,
        "securityContext": container_security_context(spec),
        "resources": resources(spec),
        "volumeMounts": mounts,
        **probes(spec),
        **_lifecycle(spec),
    }
    if spec.command:
        # The catalog's command replaces the image's CMD and keeps its ENTRYPOINT, as Docker's
        # does: that is `args` here (`command` would also replace the entrypoint, and the images'
        # entrypoints do work: redis's turns protected mode off for its in-cluster clients).
        result["args"] = list(spec.command)
    if spec.port:
        result["ports"] = [{"name": http_port_name(spec), "containerPort": spec.port, "protocol": "TCP"}]
    env = env_entries(service)
    if env:
        result["env"] = env
    if inputs.config_map is not None:
        result["envFrom"] = [{"configMapRef": {"name": inputs.config_map}}]
    return result


def pod_volumes(service: Service, inputs: WorkloadInputs) -> list[Manifest]:
    volumes, _ = writable_volumes(service.spec)
    if service.secret_env:
        volumes.append(
            {"name": SECRETS_VOLUME, "secret": {"secretName": inputs.secret, "defaultMode": SECRET_FILE_MODE}}
        )
    return volumes


NODE_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"


def topology_spread(service: str, replicas: int) -> list[Manifest]:
    """Replicas spread over nodes, a hard rule (no two on one node while another node has none),
    and over zones, best effort (a cluster whose nodes carry no zone label still schedules).
    Tainted nodes the pods cannot run on (a control plane) are not counted as empty nodes."""
    if replicas <= 1:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": selector_labels(service)},
            "matchLabelKeys": ["pod-template-hash"],  # count only the current rollout's pods
            "nodeTaintsPolicy": "Honor",
        }
        for key, when in ((NODE_TOPOLOGY, "DoNotSchedule"), (ZONE_TOPOLOGY, "ScheduleAnyway"))
    ]


def workload_annotations(spec: ServiceSpec, promoted_from: str | None) -> dict[str, str]:
    annotations = {f"{OPT_OUT_PREFIX}{name}": reason for name, reason in spec.opt_outs.items()}
    if promoted_from:
        annotations[PROMOTED_FROM_ANNOTATION] = promoted_from
    return annotations


def metrics_annotations(spec: ServiceSpec) -> dict[str, str]:
    """prometheus.io/scrape, path and port for a service whose catalog entry has `metrics`: how a
    cluster's Prometheus (kubernetes_sd, role pod) finds what to scrape; no ServiceMonitor (that
    needs the Prometheus Operator's CRD, which a cluster may not have)."""
    if spec.metrics is None or spec.metrics_port is None:
        return {}
    return {PROMETHEUS_SCRAPE: "true", PROMETHEUS_PATH: spec.metrics.path, PROMETHEUS_PORT: str(spec.metrics_port)}


def pod_template(
    service: Service, settings: Settings, inputs: WorkloadInputs, promoted_from: str | None = None
) -> Manifest:
    spec = service.spec
    pod_spec: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,  # env comes from the catalog only, not from every Service
        "securityContext": pod_security_context(spec),
        "containers": [container(service, inputs)],
        "volumes": pod_volumes(service, inputs),
    }
    if spec.one_shot:
        pod_spec["restartPolicy"] = "Never"
    else:
        pod_spec["terminationGracePeriodSeconds"] = TERMINATION_GRACE_SECONDS
    spread = topology_spread(spec.name, service.replicas)
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    metadata: dict[str, Any] = {"labels": object_labels(spec.name, settings)}
    annotations = {**workload_annotations(spec, promoted_from), **metrics_annotations(spec)}
    if inputs.image_revision is not None:
        # A rebuilt image under the same tag: a changed template rolls the pods onto it.
        annotations[IMAGE_REVISION_ANNOTATION] = inputs.image_revision
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": pod_spec}
