"""The Kubernetes type tokens the rules inspect, and how to find the pod template and containers
inside each workload kind.

Props use the Kubernetes API field names (camelCase), as the Pulumi Kubernetes provider receives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from ..common import as_list, as_map, dig

POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"

# Where each workload kind keeps its pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template"),
    STATEFUL_SET: ("spec", "template"),
    DAEMON_SET: ("spec", "template"),
    REPLICA_SET: ("spec", "template"),
    JOB: ("spec", "template"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_TYPES = frozenset([POD, *TEMPLATE_PATHS])
# Kinds whose pods are meant to keep running (and so need probes); a bare Pod counts unless
# its restartPolicy says it runs to completion.
LONG_RUNNING_TYPES = frozenset([DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, POD])
REPLICATED_TYPES = frozenset([DEPLOYMENT, STATEFUL_SET, REPLICA_SET])


class PodView(NamedTuple):
    """The pod template of a workload plus the annotations that may carry opt-outs."""

    spec: Mapping[str, Any]
    annotations: Mapping[str, Any]  # object metadata merged with pod template metadata


class ContainerView(NamedTuple):
    kind: str  # "container", "initContainer" or "ephemeralContainer"
    name: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f'{self.kind} "{self.name}"'


def pod_of(resource_type: str, props: Mapping[str, Any]) -> PodView | None:
    """The pod spec inside a workload, or None when the resource has no pod template."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    object_annotations = as_map(dig(props, "metadata", "annotations"))
    if resource_type == POD:
        return PodView(as_map(props.get("spec")), object_annotations)
    template = as_map(dig(props, *TEMPLATE_PATHS[resource_type]))
    annotations = {
        **object_annotations,
        **as_map(dig(template, "metadata", "annotations")),
    }
    return PodView(as_map(template.get("spec")), annotations)


def containers_of(pod_spec: Mapping[str, Any], *, init: bool = True, ephemeral: bool = True) -> Iterator[ContainerView]:
    kinds = [("containers", "container")]
    if init:
        kinds.append(("initContainers", "initContainer"))
    if ephemeral:
        kinds.append(("ephemeralContainers", "ephemeralContainer"))
    for field, kind in kinds:
        for index, container in enumerate(as_list(pod_spec.get(field))):
            spec = as_map(container)
            yield ContainerView(kind, str(spec.get("name") or f"#{index}"), spec)
