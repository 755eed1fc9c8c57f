"""The Kubernetes objects of a stack, one function each: namespace, service accounts,
workloads (Deployment, StatefulSet, Job), Services, env ConfigMaps and Secrets, autoscaling,
disruption budgets and the Ingress. Plain API dicts; names that are Outputs are passed in."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from components.config.catalog import ServiceSpec
from components.config.settings import Settings
from components.core.invariants import ensured
from components.core.labels import PART_OF, PART_OF_LABEL, STACK_LABEL
from components.core.names import STATE_VOLUME, headless_service_name
from components.plan.resolve import Service
from components.targets.kubernetes.manifest import Manifest
from components.targets.kubernetes.pod import (
    WorkloadInputs,
    http_port_name,
    object_labels,
    pod_template,
    selector_labels,
    workload_annotations,
)

PSA_LEVEL = "restricted"
PSA_VERSION = "latest"
HPA_CPU_UTILISATION = 70
HPA_MAX_FACTOR = 3  # maxReplicas = replicas x 3
JOB_BACKOFF_LIMIT = 2
JOB_DEADLINE_SECONDS = 600
# The finished Job is kept a day for its logs. Its name follows the image, so a
# `pulumi refresh` after the TTL recreates it (and reruns idempotent migrations) at worst.
JOB_TTL_SECONDS = 86400
# Old ReplicaSets / controller revisions kept for `kubectl rollout undo` (the default is 10).
REVISION_HISTORY_LIMIT = 5
# A rollout that makes no progress for this long is failed by the cluster (condition Progressing,
# reason ProgressDeadlineExceeded, which `kubectl rollout status` and `pulumi up`'s error name); the
# provider's wait itself ends at kubernetes.rolloutTimeoutSeconds, so keep that longer. What counts
# as progress meanwhile moves the deadline: the autoscaler scaling it, an old pod ready again. Long
# enough for an image pull and the slowest start-up probe budget (75 s); the old pods serve
# meanwhile (maxUnavailable 0).
PROGRESS_DEADLINE_SECONDS = 180


def is_stateful(spec: ServiceSpec) -> bool:
    return spec.state is not None


def job_name(service: str, image_ref: str) -> str:
    """A Job's name that changes with its image, so each release runs it again.

    A Job's pod template is immutable; a new name makes Pulumi create a new Job
    (and delete the old one) rather than try to patch it.
    """
    return f"{service}-{hashlib.sha256(image_ref.encode()).hexdigest()[:10]}"


def metadata(name: Any, spec_name: str, settings: Settings, annotations: Mapping[str, str] | None = None) -> Manifest:
    metadata: dict[str, Any] = {
        "namespace": settings.kubernetes.namespace,
        "labels": object_labels(spec_name, settings),
    }
    if name is not None:
        metadata["name"] = name
    if annotations:
        metadata["annotations"] = dict(annotations)
    return metadata


# --- manifests ------------------------------------------------------------------------------


def namespace_manifest(settings: Settings) -> Manifest:
    labels = {PART_OF_LABEL: PART_OF, STACK_LABEL: settings.stack}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = PSA_VERSION
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings.kubernetes.namespace, "labels": labels},
    }


def service_account_manifest(spec: ServiceSpec, settings: Settings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(spec.name, spec.name, settings),
        "automountServiceAccountToken": False,
    }


def deployment_manifest(
    service: Service, settings: Settings, inputs: WorkloadInputs, promoted_from: str | None = None
) -> Manifest:
    spec = service.spec
    body: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(spec.name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
        "template": pod_template(service, settings, inputs, promoted_from),
    }
    # With an HPA the autoscaler owns spec.replicas; setting it here too would make every
    # `pulumi up` fight it (server-side apply conflict) and scale back to the floor.
    if not has_autoscaler(service):
        body["replicas"] = service.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec.name, spec.name, settings, workload_annotations(spec, promoted_from)),
        "spec": body,
    }


def stateful_set_manifest(service: Service, settings: Settings, inputs: WorkloadInputs) -> Manifest:
    spec = service.spec
    state = ensured(spec.state, f"service {spec.name!r} to have state (is_stateful)")
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": state.size}},
    }
    if settings.kubernetes.storage_class:
        claim_spec["storageClassName"] = settings.kubernetes.storage_class
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(spec.name, spec.name, settings, workload_annotations(spec, None)),
        "spec": {
            # The governing Service must be headless: it gives each pod its stable DNS name
            # (<service>-0.<service>-headless). An existing StatefulSet is replaced once when this
            # changes (serviceName is immutable); its claims are retained, so its data stays.
            "serviceName": headless_service_name(spec.name),
            "replicas": service.replicas,
            "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
            "selector": {"matchLabels": selector_labels(spec.name)},
            "updateStrategy": {"type": "RollingUpdate"},
            "podManagementPolicy": "OrderedReady",
            # Data outlives the workload: deleting or scaling the StatefulSet keeps the claim.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": pod_template(service, settings, inputs),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": STATE_VOLUME, "labels": selector_labels(spec.name)},
                    "spec": claim_spec,
                }
            ],
        },
    }


def job_manifest(
    service: Service, settings: Settings, inputs: WorkloadInputs, name: Any, promoted_from: str | None = None
) -> Manifest:
    spec = service.spec
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, spec.name, settings, workload_annotations(spec, promoted_from)),
        "spec": {
            "backoffLimit": JOB_BACKOFF_LIMIT,
            "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": pod_template(service, settings, inputs, promoted_from),
        },
    }


def _service_ports(spec: ServiceSpec) -> list[Manifest]:
    return [{"name": http_port_name(spec), "port": spec.port, "targetPort": http_port_name(spec), "protocol": "TCP"}]


def service_manifest(spec: ServiceSpec, settings: Settings) -> Manifest:
    """The Service clients use: a stable virtual IP named after the service (`{host:<service>}`)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.name, spec.name, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec.name),
            "ports": _service_ports(spec),
        },
    }


def headless_service_manifest(spec: ServiceSpec, settings: Settings) -> Manifest:
    """A StatefulSet's governing Service: no virtual IP, a DNS record per ready pod."""
    body: dict[str, Any] = {"clusterIP": "None", "selector": selector_labels(spec.name)}
    if spec.port:
        body["ports"] = _service_ports(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(headless_service_name(spec.name), spec.name, settings),
        "spec": body,
    }


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


def config_map_manifest(spec: ServiceSpec, settings: Settings, data: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(content_name(f"{spec.name}-env", data), spec.name, settings),
        "data": dict(data),
    }


def secret_manifest(spec: ServiceSpec, settings: Settings, name: Any, values: Mapping[str, Any]) -> Manifest:
    # stringData keeps the Outputs secret in Pulumi's state; the values never reach a plain field.
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, spec.name, settings),
        "type": "Opaque",
        "stringData": dict(values),
    }


def has_autoscaler(service: Service) -> bool:
    return service.spec.long_running and not is_stateful(service.spec) and service.replicas > 1


def hpa_manifest(service: Service, settings: Settings) -> Manifest:
    spec, replicas = service.spec, service.replicas
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec.name, spec.name, settings),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": replicas,
            "maxReplicas": replicas * HPA_MAX_FACTOR,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": HPA_CPU_UTILISATION},
                    },
                }
            ],
        },
    }


def pdb_manifest(spec: ServiceSpec, settings: Settings) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec.name, spec.name, settings),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(spec.name)},
            # A crash-looping pod must not block a node drain.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def ingress_manifest(spec: ServiceSpec, settings: Settings) -> Manifest:
    ingress = settings.kubernetes.ingress
    body: dict[str, Any] = {
        "ingressClassName": ingress.class_name,
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": spec.name, "port": {"number": spec.port}}},
                        }
                    ]
                },
            }
        ],
    }
    if ingress.tls_secret:
        body["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(spec.name, spec.name, settings),
        "spec": body,
    }
