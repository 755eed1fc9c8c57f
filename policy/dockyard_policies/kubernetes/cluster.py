"""Rules on the objects around the pods: how Services are exposed, which pods get an API token
(with their ServiceAccounts), namespace isolation (default-deny NetworkPolicy, PSA label), and
PodDisruptionBudgets for replicated workloads. All but the Service rule see the whole stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..common import Finding, StackResource, as_list, as_map, dig
from .workloads import (
    NAMESPACE,
    NETWORK_POLICY,
    POD_DISRUPTION_BUDGET,
    REPLICATED_TYPES,
    SERVICE,
    SERVICE_ACCOUNT,
    STATEFUL_SET,
    pod_of,
)

PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def load_balancer_violations(resource_type: str, props: Mapping[str, Any], allow_load_balancer: bool) -> list[str]:
    """Services are not of type LoadBalancer (traffic enters through the Ingress) unless the stack allows it."""
    if resource_type != SERVICE or allow_load_balancer:
        return []
    if dig(props, "spec", "type") == "LoadBalancer":
        name = dig(props, "metadata", "name") or "?"
        return [f'Service "{name}": type LoadBalancer is not allowed on this stack (use an Ingress or ClusterIP)']
    return []


def _namespace_of(props: Mapping[str, Any]) -> str:
    namespace = dig(props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _object_name(resource: StackResource) -> str:
    """metadata.name when set, else the Pulumi resource name (auto-named objects)."""
    name = dig(resource.props, "metadata", "name")
    return name if isinstance(name, str) and name else resource.name


def service_account_token_violations(
    resources: Sequence[StackResource],
) -> list[Finding]:
    """automountServiceAccountToken false on each pod spec, or unset there and false on its ServiceAccount."""
    accounts = {
        (_namespace_of(r.props), _object_name(r)): r.props.get("automountServiceAccountToken")
        for r in resources
        if r.type == SERVICE_ACCOUNT
    }
    out = []
    for r in resources:
        pod = pod_of(r.type, r.props)
        if pod is None:
            continue
        on_pod = pod.spec.get("automountServiceAccountToken")
        if on_pod is False:
            continue
        account = pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default"
        if on_pod is True:
            out.append(
                Finding(
                    f'{r.type.rsplit(":", 1)[-1]} "{r.name}": automountServiceAccountToken must not be true',
                    r.urn,
                )
            )
        elif accounts.get((_namespace_of(r.props), account)) is not False:
            out.append(
                Finding(
                    f'{r.type.rsplit(":", 1)[-1]} "{r.name}": automountServiceAccountToken must be false on the pod '
                    f'spec or on its ServiceAccount "{account}"',
                    r.urn,
                )
            )
    return out


def is_default_deny(props: Mapping[str, Any]) -> bool:
    """podSelector {} with policyTypes Ingress and Egress and no rules: nothing in, nothing out."""
    spec = as_map(props.get("spec"))
    selector = as_map(spec.get("podSelector"))
    if as_map(selector.get("matchLabels")) or as_list(selector.get("matchExpressions")):
        return False
    if "podSelector" not in spec:
        return False
    if set(as_list(spec.get("policyTypes"))) != {"Ingress", "Egress"}:
        return False
    return not as_list(spec.get("ingress")) and not as_list(spec.get("egress"))


def namespace_isolation_violations(resources: Sequence[StackResource]) -> list[Finding]:
    """Every Namespace: a default-deny NetworkPolicy (ingress and egress) and PSA enforce=restricted."""
    denied = {_namespace_of(r.props) for r in resources if r.type == NETWORK_POLICY and is_default_deny(r.props)}
    out = []
    for r in resources:
        if r.type != NAMESPACE:
            continue
        name = _object_name(r)
        if name not in denied:
            out.append(
                Finding(
                    f'Namespace "{name}": needs a default-deny NetworkPolicy '
                    "(podSelector {}, policyTypes [Ingress, Egress], no rules)",
                    r.urn,
                )
            )
        if dig(r.props, "metadata", "labels", PSA_ENFORCE_LABEL) != "restricted":
            out.append(
                Finding(
                    f'Namespace "{name}": label {PSA_ENFORCE_LABEL} must be "restricted"',
                    r.urn,
                )
            )
    return out


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Kubernetes LabelSelector semantics; an empty selector matches every pod."""
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_map(expr)
        label, op, values = (
            expr.get("key"),
            expr.get("operator"),
            list(as_list(expr.get("values"))),
        )
        present = isinstance(label, str) and label in labels
        value = labels[label] if isinstance(label, str) and present else None
        if op == "In" and not (present and value in values):
            return False
        if op == "NotIn" and present and value in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def pod_disruption_budget_violations(
    resources: Sequence[StackResource],
) -> list[Finding]:
    """Every workload with replicas > 1 is selected by a PodDisruptionBudget in its namespace."""
    # policy/v1: a null selector selects no pods, an empty one selects the whole namespace.
    budgets = [
        (_namespace_of(r.props), as_map(dig(r.props, "spec", "selector")))
        for r in resources
        if r.type == POD_DISRUPTION_BUDGET and dig(r.props, "spec", "selector") is not None
    ]
    out = []
    for r in resources:
        if r.type not in REPLICATED_TYPES:
            continue
        replicas = dig(r.props, "spec", "replicas")
        if not isinstance(replicas, int) or replicas <= 1:
            continue
        namespace = _namespace_of(r.props)
        labels = as_map(dig(r.props, "spec", "template", "metadata", "labels"))
        if not any(ns == namespace and selector_matches(sel, labels) for ns, sel in budgets):
            kind = r.type.rsplit(":", 1)[-1]
            out.append(
                Finding(
                    f'{kind} "{r.name}" has {replicas} replicas but no PodDisruptionBudget selects its pods',
                    r.urn,
                )
            )
    return out


def headless_governing_service_violations(resources: Sequence[StackResource]) -> list[Finding]:
    """Each StatefulSet's serviceName names a headless Service (clusterIP None) of its namespace:
    the governing Service gives its pods their stable DNS names."""
    headless = {
        (_namespace_of(r.props), _object_name(r))
        for r in resources
        if r.type == SERVICE and dig(r.props, "spec", "clusterIP") == "None"
    }
    out = []
    for r in resources:
        if r.type != STATEFUL_SET:
            continue
        governing = dig(r.props, "spec", "serviceName")
        if not governing or (_namespace_of(r.props), governing) not in headless:
            out.append(
                Finding(
                    f'StatefulSet "{_object_name(r)}": serviceName {governing!r} must name a headless Service '
                    "(clusterIP: None) in its namespace",
                    r.urn,
                )
            )
    return out
