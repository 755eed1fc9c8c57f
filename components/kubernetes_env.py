"""`KubernetesEnvironment`: the catalog as namespace, workloads, services, ingress,
autoscaling, disruption budgets and NetworkPolicies.

The `*_manifest` functions compute each object as a plain Kubernetes API dict
(camelCase, as `kubectl apply` takes it) from a `ServiceSpec` and the stack
settings; values that are Pulumi Outputs (image references, secret values,
auto-generated names) are passed in and placed as they are. The component only
turns those dicts into resources through an explicit provider, parents them and
orders them (migrations Job before the backend rollout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.catalog import CATALOG, ServiceSpec, by_name, render_template, start_order, talks_to_edges
from components.secrets import render_env_value
from components.settings import Problem, Settings, StackKind, cpu_cores, memory_bytes

PART_OF = "dockyard"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
STACK_LABEL = "dockyard.dev/stack"
OPT_OUT_ANNOTATION_PREFIX = "opt-out.dockyard.dev/"
PROMOTED_FROM_ANNOTATION = "dockyard.dev/promoted-from"
PSA_LEVEL = "restricted"
PSA_VERSION = "latest"

SECRET_DIR = "/run/secrets/dockyard"  # <NAME> files; apps read <NAME>_FILE
SECRET_FILE_MODE = 0o440  # owner root, group fsGroup: readable by the pod's group only
STATE_VOLUME = "data"
TMP_SIZE_LIMIT = "64Mi"  # as the Docker target's tmpfs size
MEMORY_BACKED_PATHS = ("/tmp",)  # scratch space: RAM-backed, counted against the memory limit

PRE_STOP_SLEEP_SECONDS = 5  # lets endpoints and the ingress stop sending traffic first
APP_GRACEFUL_SECONDS = 20  # what the apps take to drain (uvicorn --timeout-graceful-shutdown)
TERMINATION_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + APP_GRACEFUL_SECONDS + 5  # + margin for SIGKILL
HPA_CPU_UTILISATION = 70
HPA_MAX_FACTOR = 3  # maxReplicas = replicas x 3

IMAGE_REVISION_ANNOTATION = "dockyard.dev/image-id"
# Where rendered manifests (GitOps) expect each service's secret env: created from a secret
# store in the cluster (External Secrets, Sealed Secrets, `kubectl create secret`), never
# written into the rendered files.
EXTERNAL_SECRET_SUFFIX = "-secrets"
# A cold deploy waits on a chain (database, migrations Job, backend, frontend) behind image
# pulls: the default 10 minutes per object is too short for the end of that chain.
WORKLOAD_TIMEOUT = "20m"

JOB_BACKOFF_LIMIT = 2
JOB_DEADLINE_SECONDS = 600
# The finished Job is kept a day for its logs. Its name follows the image, so a
# `pulumi refresh` after the TTL recreates it (and reruns idempotent migrations) at worst.
JOB_TTL_SECONDS = 86400

DNS_NAMESPACE = "kube-system"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace


# --- small helpers -------------------------------------------------------------------------


def _user_ids(spec: ServiceSpec) -> tuple[int, int]:
    user, _, group = spec.user.partition(":")
    return int(user), int(group or user)


def half_memory(quantity: str) -> str:
    """Half a memory quantity, in Mi when whole, else Ki."""
    half = memory_bytes(quantity) // 2
    return f"{half // 2**20}Mi" if half % 2**20 == 0 else f"{half // 2**10}Ki"


def half_cpu(quantity: str) -> str:
    return f"{max(1, round(cpu_cores(quantity) * 1000 / 2))}m"


def selector_labels(service: str) -> dict[str, str]:
    return {NAME_LABEL: service, PART_OF_LABEL: PART_OF}


def object_labels(service: str, settings: Settings) -> dict[str, str]:
    return {**selector_labels(service), STACK_LABEL: settings.stack}


def _volume_name(path: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    return f"writable-{cleaned or 'root'}"[:63].rstrip("-")


def is_stateful(spec: ServiceSpec) -> bool:
    return spec.state is not None


def job_name(service: str, image_ref: str) -> str:
    """A Job's name that changes with its image, so each release runs it again.

    A Job's pod template is immutable; a new name makes Pulumi create a new Job
    (and delete the old one) rather than try to patch it.
    """
    return f"{service}-{hashlib.sha256(image_ref.encode()).hexdigest()[:10]}"


def http_port_name(spec: ServiceSpec) -> str:
    return "http" if spec.health and spec.health.liveness_path else "tcp"


# --- validation -----------------------------------------------------------------------------


def kubernetes_problems(settings: Settings, catalog: tuple[ServiceSpec, ...] = CATALOG) -> list[Problem]:
    """What is wrong for the Kubernetes target (only when the stack runs it)."""
    if not settings.runs_kubernetes:
        return []
    problems = []
    specs = by_name(catalog)
    enabled = {name for name in specs if settings.service(name).enabled}
    target = settings.kubernetes.ingress.service
    public = sorted(name for name, spec in specs.items() if spec.public and spec.port and name in enabled)
    if target not in public:
        problems.append(Problem("kubernetes.ingress.service", target, f"must be an enabled public service with a port: {', '.join(public) or 'none'}"))
    if settings.kind is StackKind.PROD:
        for name in public:
            replicas = settings.service(name).replicas
            if replicas < 2:
                problems.append(Problem(
                    f"services.{name}.replicas", replicas,
                    "prod runs public services with at least 2 replicas (survives a node drain; HPA and PDB need them)",
                ))
    if settings.kind is StackKind.DEV and not settings.runs_docker:
        # Dev images are only loaded into a Docker daemon (Minikube's) on the docker target.
        problems.append(Problem(
            "target", settings.target.value,
            "dev reaches Minikube with target docker and kubernetes.enabled true "
            "(images are built into Minikube's Docker daemon, see docs/kubernetes.md)",
        ))
    if settings.dev.hot_reload and settings.kubernetes.enabled:
        problems.append(Problem("dev.hotReload", True, "Kubernetes runs the runtime images: turn off hot reload or kubernetes.enabled"))
    return problems


# --- pod template ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkloadInputs:
    """Values the pod template needs that may be Outputs."""

    image: Any
    image_pull_policy: str
    config_map: Any | None = None  # name of the plain-env ConfigMap
    secret: Any | None = None  # name of the secret-env Secret
    image_revision: Any | None = None  # the built image's ID where the ref is a reused tag (Minikube)


def image_pull_policy(spec: ServiceSpec, settings: Settings) -> str:
    """Dev: built images exist only in Minikube's Docker daemon (Never pulls them),
    upstream ones are pulled once. Elsewhere: Always, so every pod start checks the
    registry credentials; the digest makes the pull itself a no-op when cached."""
    if settings.kind is StackKind.DEV:
        return "IfNotPresent" if spec.image is not None else "Never"
    return "Always"


def _probe_handler(spec: ServiceSpec, path: str | None) -> dict:
    if path is not None:
        return {"httpGet": {"path": path, "port": http_port_name(spec)}}
    return {"exec": {"command": list(spec.health.command)}}


def probes(spec: ServiceSpec) -> dict:
    """startup (gives slow starts 2 minutes), readiness and liveness.

    HTTP services use their catalog paths; databases the exec check from the catalog."""
    if spec.health is None or spec.one_shot:
        return {}
    live = _probe_handler(spec, spec.health.liveness_path)
    ready = _probe_handler(spec, spec.health.readiness_path or spec.health.liveness_path)
    return {
        "startupProbe": {**live, "periodSeconds": 2, "failureThreshold": 60, "timeoutSeconds": 3},
        "readinessProbe": {**ready, "periodSeconds": 5, "failureThreshold": 3, "timeoutSeconds": 3},
        "livenessProbe": {**live, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
    }


def resources(spec: ServiceSpec) -> dict:
    # Requests are half the limits: the scheduler reserves a typical load, the limit
    # caps a burst. Memory over the request is the first to be reclaimed under pressure.
    return {
        "requests": {"cpu": half_cpu(spec.resources.cpu), "memory": half_memory(spec.resources.memory)},
        "limits": {"cpu": spec.resources.cpu, "memory": spec.resources.memory},
    }


def container_security_context(spec: ServiceSpec) -> dict:
    uid, gid = _user_ids(spec)
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(spec: ServiceSpec) -> dict:
    uid, gid = _user_ids(spec)
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": spec.fs_group if spec.fs_group is not None else gid,
        "fsGroupChangePolicy": "OnRootMismatch",  # no recursive chown of a big data volume on every start
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def writable_volumes(spec: ServiceSpec) -> tuple[list[dict], list[dict]]:
    """(volumes, mounts): an emptyDir per writable path; the root filesystem is read-only."""
    volumes, mounts = [], []
    for path in spec.writable_paths:
        name = _volume_name(path)
        empty_dir = {"sizeLimit": TMP_SIZE_LIMIT}
        if path in MEMORY_BACKED_PATHS:
            empty_dir["medium"] = "Memory"
        volumes.append({"name": name, "emptyDir": empty_dir})
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def env_entries(spec: ServiceSpec) -> list[dict]:
    """Secrets arrive as files: `<NAME>_FILE` points at the mounted Secret key."""
    return [{"name": f"{name}_FILE", "value": f"{SECRET_DIR}/{name}"} for name in spec.secret_env_names()]


def _lifecycle(spec: ServiceSpec) -> dict:
    if spec.one_shot:
        return {}
    return {"lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}}}


def container(spec: ServiceSpec, inputs: WorkloadInputs) -> dict:
    volumes, mounts = writable_volumes(spec)
    if spec.secret_env_names():
        mounts.append({"name": "secrets", "mountPath": SECRET_DIR, "readOnly": True})
    if is_stateful(spec):
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
        result["command"] = list(spec.command)
    if spec.port:
        result["ports"] = [{"name": http_port_name(spec), "containerPort": spec.port, "protocol": "TCP"}]
    env = env_entries(spec)
    if env:
        result["env"] = env
    if inputs.config_map is not None:
        result["envFrom"] = [{"configMapRef": {"name": inputs.config_map}}]
    return result


def pod_volumes(spec: ServiceSpec, inputs: WorkloadInputs) -> list[dict]:
    volumes, _ = writable_volumes(spec)
    if spec.secret_env_names():
        volumes.append({"name": "secrets", "secret": {"secretName": inputs.secret, "defaultMode": SECRET_FILE_MODE}})
    return volumes


def topology_spread(service: str, replicas: int) -> list[dict]:
    """Spread replicas over nodes and zones; best effort, so a small cluster still schedules."""
    if replicas <= 1:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector_labels(service)},
            "matchLabelKeys": ["pod-template-hash"],  # count only the current rollout's pods
        }
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]


def workload_annotations(spec: ServiceSpec, promoted_from: str | None) -> dict[str, str]:
    annotations = {f"{OPT_OUT_ANNOTATION_PREFIX}{name}": reason for name, reason in spec.opt_outs.items()}
    if promoted_from:
        annotations[PROMOTED_FROM_ANNOTATION] = promoted_from
    return annotations


def pod_template(spec: ServiceSpec, settings: Settings, inputs: WorkloadInputs, promoted_from: str | None = None) -> dict:
    replicas = settings.service(spec.name).replicas
    pod_spec: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,  # env comes from the catalog only, not from every Service
        "securityContext": pod_security_context(spec),
        "containers": [container(spec, inputs)],
        "volumes": pod_volumes(spec, inputs),
    }
    if spec.one_shot:
        pod_spec["restartPolicy"] = "Never"
    else:
        pod_spec["terminationGracePeriodSeconds"] = TERMINATION_GRACE_SECONDS
    spread = topology_spread(spec.name, replicas)
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    metadata: dict[str, Any] = {"labels": object_labels(spec.name, settings)}
    annotations = workload_annotations(spec, promoted_from)
    if inputs.image_revision is not None:
        # A rebuilt image under the same tag: a changed template rolls the pods onto it.
        annotations[IMAGE_REVISION_ANNOTATION] = inputs.image_revision
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": pod_spec}


def _metadata(name: Any, spec_name: str, settings: Settings, annotations: Mapping[str, str] | None = None) -> dict:
    metadata: dict[str, Any] = {"namespace": settings.kubernetes.namespace, "labels": object_labels(spec_name, settings)}
    if name is not None:
        metadata["name"] = name
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


# --- manifests ------------------------------------------------------------------------------


def namespace_manifest(settings: Settings) -> dict:
    labels = {PART_OF_LABEL: PART_OF, STACK_LABEL: settings.stack}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = PSA_VERSION
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.kubernetes.namespace, "labels": labels}}


def service_account_manifest(spec: ServiceSpec, settings: Settings) -> dict:
    return {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": _metadata(spec.name, spec.name, settings),
        "automountServiceAccountToken": False,
    }


def deployment_manifest(spec: ServiceSpec, settings: Settings, inputs: WorkloadInputs, promoted_from: str | None = None) -> dict:
    replicas = settings.service(spec.name).replicas
    body: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(spec.name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 5,
        "template": pod_template(spec, settings, inputs, promoted_from),
    }
    # With an HPA the autoscaler owns spec.replicas; setting it here too would make every
    # `pulumi up` fight it (server-side apply conflict) and scale back to the floor.
    if not has_autoscaler(spec, settings):
        body["replicas"] = replicas
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(spec.name, spec.name, settings, workload_annotations(spec, promoted_from)),
        "spec": body,
    }


def stateful_set_manifest(spec: ServiceSpec, settings: Settings, inputs: WorkloadInputs) -> dict:
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.state.size}},
    }
    if settings.kubernetes.storage_class:
        claim_spec["storageClassName"] = settings.kubernetes.storage_class
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _metadata(spec.name, spec.name, settings, workload_annotations(spec, None)),
        "spec": {
            "serviceName": spec.name,
            "replicas": settings.service(spec.name).replicas,
            "selector": {"matchLabels": selector_labels(spec.name)},
            "updateStrategy": {"type": "RollingUpdate"},
            "podManagementPolicy": "OrderedReady",
            # Data outlives the workload: deleting or scaling the StatefulSet keeps the claim.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": pod_template(spec, settings, inputs),
            "volumeClaimTemplates": [{
                "metadata": {"name": STATE_VOLUME, "labels": selector_labels(spec.name)},
                "spec": claim_spec,
            }],
        },
    }


def job_manifest(spec: ServiceSpec, settings: Settings, inputs: WorkloadInputs, name: Any, promoted_from: str | None = None) -> dict:
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _metadata(name, spec.name, settings, workload_annotations(spec, promoted_from)),
        "spec": {
            "backoffLimit": JOB_BACKOFF_LIMIT,
            "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": pod_template(spec, settings, inputs, promoted_from),
        },
    }


def service_manifest(spec: ServiceSpec, settings: Settings) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(spec.name, spec.name, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec.name),
            "ports": [{"name": http_port_name(spec), "port": spec.port, "targetPort": http_port_name(spec), "protocol": "TCP"}],
        },
    }


def plain_env(spec: ServiceSpec, catalog: Iterable[ServiceSpec]) -> dict[str, str]:
    """The non-secret env, templates filled: hosts are Service names (same namespace)."""
    specs = by_name(catalog)
    hosts = {name: name for name in specs}
    ports = {name: s.port for name, s in specs.items() if s.port}
    return {name: render_template(spec.env[name], hosts, ports) for name in spec.plain_env_names()}


def content_name(prefix: str, data: Mapping[str, str]) -> str:
    """`<prefix>-<hash of the content>`, as kustomize's configMapGenerator names them: a
    change makes a new object, and the new name in the pod template rolls the workload
    (an edited ConfigMap alone would not restart anything). Plain values only: Secrets are
    named by `secret_name`."""
    digest = hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()
    return f"{prefix}-{digest[:10]}"


def secret_name(prefix: str, values: Mapping[str, str], salt: str) -> str:
    """`<prefix>-<10 hex of an HMAC of the values>`: a changed value makes a new name, which
    rolls the pods that mount it. Keyed with a random salt kept secret in the stack's state:
    an unkeyed hash in a name anyone reading Deployments sees would let them test guesses
    of a password offline."""
    payload = json.dumps(dict(values), sort_keys=True).encode()
    digest = hmac.new(salt.encode(), payload, hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:10]}"


def config_map_manifest(spec: ServiceSpec, settings: Settings, data: Mapping[str, str]) -> dict:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(content_name(f"{spec.name}-env", data), spec.name, settings),
        "data": dict(data),
    }


def secret_manifest(spec: ServiceSpec, settings: Settings, name: Any, values: Mapping[str, Any]) -> dict:
    # stringData keeps the Outputs secret in Pulumi's state; the values never reach a plain field.
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": _metadata(name, spec.name, settings),
        "type": "Opaque",
        "stringData": dict(values),
    }


def has_autoscaler(spec: ServiceSpec, settings: Settings) -> bool:
    return spec.long_running and not is_stateful(spec) and settings.service(spec.name).replicas > 1


def hpa_manifest(spec: ServiceSpec, settings: Settings) -> dict:
    replicas = settings.service(spec.name).replicas
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec.name, spec.name, settings),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": replicas,
            "maxReplicas": replicas * HPA_MAX_FACTOR,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": HPA_CPU_UTILISATION}},
            }],
        },
    }


def pdb_manifest(spec: ServiceSpec, settings: Settings) -> dict:
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec.name, spec.name, settings),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(spec.name)},
            # A crash-looping pod must not block a node drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def ingress_manifest(spec: ServiceSpec, settings: Settings) -> dict:
    ingress = settings.kubernetes.ingress
    body: dict[str, Any] = {
        "ingressClassName": ingress.class_name,
        "rules": [{
            "host": ingress.host,
            "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": spec.name, "port": {"number": spec.port}}},
            }]},
        }],
    }
    if ingress.tls_secret:
        body["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": _metadata(spec.name, spec.name, settings),
        "spec": body,
    }


# --- NetworkPolicy ------------------------------------------------------------------------


def _pod_peer(service: str) -> dict:
    return {"podSelector": {"matchLabels": selector_labels(service)}}


def _tcp(port: int) -> list[dict]:
    return [{"protocol": "TCP", "port": port}]


def default_deny_manifest(settings: Settings) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": settings.kubernetes.namespace, "labels": {PART_OF_LABEL: PART_OF}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def dns_egress_manifest(settings: Settings) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-dns", "namespace": settings.kubernetes.namespace, "labels": {PART_OF_LABEL: PART_OF}},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        },
    }


def external_services(settings: Settings, full_catalog: tuple[ServiceSpec, ...] = CATALOG) -> dict[str, ServiceSpec]:
    """Disabled services replaced by an external one (the database in prod)."""
    return {
        spec.name: spec for spec in full_catalog
        if not settings.service(spec.name).enabled and spec.external_secret is not None
    }


def network_policy_manifest(
    spec: ServiceSpec,
    settings: Settings,
    catalog: tuple[ServiceSpec, ...],
    full_catalog: tuple[ServiceSpec, ...] = CATALOG,
) -> dict:
    """Exactly the catalog's edges touching this service: ingress from its clients and
    egress to its servers on their ports; the ingress controller for the routed service;
    an external database on its port."""
    specs = by_name(catalog)
    edges = talks_to_edges(catalog)
    ingress = [
        {"from": [_pod_peer(client)], "ports": _tcp(spec.port)}
        for client, server in sorted(edges) if server == spec.name
    ]
    if spec.name == settings.kubernetes.ingress.service and spec.port:
        ingress.append({
            "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: settings.kubernetes.ingress_namespace}}}],
            "ports": _tcp(spec.port),
        })
    egress = [
        {"to": [_pod_peer(server)], "ports": _tcp(specs[server].port)}
        for client, server in sorted(edges) if client == spec.name
    ]
    original = by_name(full_catalog).get(spec.name, spec)
    for name, external in sorted(external_services(settings, full_catalog).items()):
        if name in original.talks_to and external.port:
            egress.append({"to": [{"ipBlock": {"cidr": settings.kubernetes.external_database_cidr}}], "ports": _tcp(external.port)})
    body: dict[str, Any] = {"podSelector": {"matchLabels": selector_labels(spec.name)}, "policyTypes": ["Ingress", "Egress"]}
    if ingress:
        body["ingress"] = ingress
    if egress:
        body["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _metadata(f"allow-{spec.name}", spec.name, settings),
        "spec": body,
    }


# --- the component -------------------------------------------------------------------------


def provider_args(settings: Settings) -> dict[str, Any]:
    kube = settings.kubernetes
    args: dict[str, Any] = {"namespace": kube.namespace, "enable_server_side_apply": True}
    if kube.render_yaml_to_directory:
        # GitOps: write the manifests instead of applying them (no cluster needed). The
        # provider refuses a context alongside it, so the context is left out here.
        args["render_yaml_to_directory"] = kube.render_yaml_to_directory
    elif kube.context:
        args["context"] = kube.context
    return args


def rendering(settings: Settings) -> bool:
    return bool(settings.kubernetes.render_yaml_to_directory)


def external_secret_name(service: str) -> str:
    return f"{service}{EXTERNAL_SECRET_SUFFIX}"


def _snake(key: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in key)


_KINDS = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Secret": k8s.core.v1.Secret,
    "Service": k8s.core.v1.Service,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "Job": k8s.batch.v1.Job,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "Ingress": k8s.networking.v1.Ingress,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}


class KubernetesEnvironment(pulumi.ComponentResource):
    """The whole stack in one Kubernetes namespace.

    Outputs: `namespace`, `url` (the Ingress host), `workloads` (service -> kind/name)
    and `images` (service -> the image reference deployed).
    """

    def __init__(
        self,
        name: str,
        *,
        settings: Settings,
        catalog: tuple[ServiceSpec, ...],
        images: Mapping[str, pulumi.Input[str]],
        secrets: Mapping[str, pulumi.Output[str]],
        image_revisions: Mapping[str, pulumi.Input[str]] | None = None,
        promoted_from: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:KubernetesEnvironment", name, None, opts)
        self._name = name
        self._settings = settings
        self.provider = k8s.Provider(f"{name}-provider", **provider_args(settings), opts=pulumi.ResourceOptions(parent=self))
        self.namespace = self._create(f"{name}-namespace", namespace_manifest(settings))
        specs = by_name(catalog)
        promoted_from = promoted_from or {}
        self._create(f"{name}-default-deny", default_deny_manifest(settings), [self.namespace])
        self._create(f"{name}-allow-dns", dns_egress_manifest(settings), [self.namespace])
        # Generated once and kept (encrypted) in the stack's state: keys the Secret names.
        self._secret_salt = random.RandomBytes(
            f"{name}-secret-name-salt", length=32, opts=pulumi.ResourceOptions(parent=self),
        ).hex
        self.workloads: dict[str, pulumi.CustomResource] = {}
        # service -> what dependants wait for: its Service (created once its pods are ready,
        # so its await finds endpoints at once) or, without one, the workload itself.
        self.ready: dict[str, pulumi.CustomResource] = {}
        image_revisions = image_revisions or {}
        for service in start_order(catalog):
            spec = specs[service]
            self._service(spec, catalog, images[service], image_revisions.get(service), secrets, promoted_from.get(service))
        routed = specs.get(settings.kubernetes.ingress.service)
        if routed is not None:
            self._create(f"{name}-ingress", ingress_manifest(routed, settings), [self.namespace, self.ready[routed.name]])
        # What rendered manifests expect to find in the cluster: Secret names and keys, no values.
        self.external_secrets = {
            external_secret_name(s.name): list(s.secret_env_names()) for s in catalog if s.secret_env_names()
        } if rendering(settings) else {}
        self.url = ("https://" if settings.kubernetes.ingress.tls_secret else "http://") + settings.kubernetes.ingress.host
        self.images = dict(images)
        self.register_outputs({
            "namespace": settings.kubernetes.namespace,
            "url": self.url,
            "images": self.images,
        })

    def _create(self, resource_name: str, manifest: dict, depends_on: list | None = None, **options) -> pulumi.CustomResource:
        kind = manifest["kind"]
        # Top-level fields are the SDK's keyword arguments (snake_case); nested dicts keep
        # the Kubernetes API's camelCase and pass through as they are.
        body = {_snake(key): value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
        return _KINDS[kind](
            resource_name,
            **body,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=depends_on or [], **options),
        )

    def _service(self, spec: ServiceSpec, catalog, image, image_revision, secrets, promoted_from: str | None) -> None:
        name, settings = self._name, self._settings
        base = [self.namespace]
        prefix = f"{name}-{spec.name}"
        account = self._create(f"{prefix}-sa", service_account_manifest(spec, settings), base)
        config_map = secret = name_of_secret = None
        data = plain_env(spec, catalog)
        if data:
            config_map = self._create(f"{prefix}-env", config_map_manifest(spec, settings, data), base)
        secret_names = spec.secret_env_names()
        if secret_names and rendering(settings):
            # renderYamlToDirectory would write the values (base64) into the files.
            name_of_secret = external_secret_name(spec.name)
            secret_names = ()
        if secret_names:
            hosts = {s.name: s.name for s in catalog}
            ports = {s.name: s.port for s in catalog if s.port}
            values = {key: render_env_value(spec.env[key], hosts, ports, secrets) for key in secret_names}
            # The name's hash is keyed with the secret salt, so it reveals nothing about the
            # values and need not be secret: pod templates that use it stay readable in diffs.
            name_of_secret = pulumi.Output.unsecret(
                pulumi.Output.all(self._secret_salt, pulumi.Output.all(**values)).apply(
                    lambda args, p=f"{spec.name}-secrets": secret_name(p, args[1], args[0])
                )
            )
            secret = self._create(f"{prefix}-secret", secret_manifest(spec, settings, name_of_secret, values), base)
        inputs = WorkloadInputs(
            image=image,
            image_pull_policy=image_pull_policy(spec, settings),
            config_map=content_name(f"{spec.name}-env", data) if data else None,
            secret=name_of_secret,
            image_revision=image_revision,
        )
        needs = [account, *(r for r in (config_map, secret) if r is not None)]
        needs += [self.ready[d] for d in spec.depends_on if d in self.ready]
        timeouts = pulumi.CustomTimeouts(create=WORKLOAD_TIMEOUT, update=WORKLOAD_TIMEOUT)
        if spec.one_shot:
            # Named after the image (its ID when the tag is reused): each new image runs it again.
            job_name_output = pulumi.Output.from_input(image_revision or image).apply(lambda ref: job_name(spec.name, ref))
            workload = self._create(f"{prefix}-job", job_manifest(spec, settings, inputs, job_name_output, promoted_from),
                                    base + needs, custom_timeouts=timeouts)
        elif is_stateful(spec):
            workload = self._create(f"{prefix}-statefulset", stateful_set_manifest(spec, settings, inputs), base + needs,
                                    custom_timeouts=timeouts)
        else:
            # depends_on the migrations Job: Pulumi waits for the Job to complete first.
            workload = self._create(f"{prefix}-deployment", deployment_manifest(spec, settings, inputs, promoted_from),
                                    base + needs, custom_timeouts=timeouts)
            if has_autoscaler(spec, settings):
                self._create(f"{prefix}-hpa", hpa_manifest(spec, settings), [workload])
                self._create(f"{prefix}-pdb", pdb_manifest(spec, settings), base)
        ready = workload
        if spec.port and spec.long_running:
            ready = self._create(f"{prefix}-service", service_manifest(spec, settings), [*base, workload])
        self._create(f"{prefix}-netpol", network_policy_manifest(spec, settings, catalog), base)
        self.workloads[spec.name] = workload
        self.ready[spec.name] = ready
