"""Stack-level Kubernetes rules: service-account tokens, namespace isolation, disruption budgets."""

from __future__ import annotations

from dockyard_policies.common import Finding, StackResource
from dockyard_policies.kubernetes import cluster
from dockyard_policies.kubernetes import workloads as k8s

from . import fixtures as fx


def R(type_: str, name: str, props: dict, urn: str | None = None) -> StackResource:
    return StackResource(type_, name, props, urn or f"urn:{name}")


def test_token_off_on_pod_spec_passes() -> None:
    assert cluster.service_account_token_violations([R(k8s.DEPLOYMENT, "backend", fx.deployment())]) == []


def test_token_off_on_service_account_passes_when_pod_leaves_it_unset() -> None:
    dep = fx.deployment()
    del dep["spec"]["template"]["spec"]["automountServiceAccountToken"]
    dep["spec"]["template"]["spec"]["serviceAccountName"] = "backend"
    sa = {
        "metadata": {"name": "backend", "namespace": "dockyard"},
        "automountServiceAccountToken": False,
    }
    assert (
        cluster.service_account_token_violations([R(k8s.DEPLOYMENT, "backend", dep), R(k8s.SERVICE_ACCOUNT, "sa", sa)])
        == []
    )
    # The same account in another namespace does not count.
    sa["metadata"]["namespace"] = "other"
    assert cluster.service_account_token_violations(
        [R(k8s.DEPLOYMENT, "backend", dep), R(k8s.SERVICE_ACCOUNT, "sa", sa)]
    ) == [
        Finding(
            'Deployment "backend": automountServiceAccountToken must be false on the pod spec or on its '
            'ServiceAccount "backend"',
            "urn:backend",
        )
    ]


def test_token_unset_with_default_account_fails() -> None:
    job = fx.job()
    del job["spec"]["template"]["spec"]["automountServiceAccountToken"]
    findings = cluster.service_account_token_violations([R(k8s.JOB, "migrate", job)])
    assert [f.message for f in findings] == [
        'Job "migrate": automountServiceAccountToken must be false on the pod spec or on its ServiceAccount "default"'
    ]


def test_token_true_on_pod_fails_even_if_account_says_false() -> None:
    dep = fx.deployment()
    dep["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    sa = {
        "metadata": {"name": "default", "namespace": "dockyard"},
        "automountServiceAccountToken": False,
    }
    findings = cluster.service_account_token_violations(
        [R(k8s.DEPLOYMENT, "backend", dep), R(k8s.SERVICE_ACCOUNT, "sa", sa)]
    )
    assert [f.message for f in findings] == ['Deployment "backend": automountServiceAccountToken must not be true']


def test_namespace_with_default_deny_and_psa_label_passes() -> None:
    resources = [
        R(k8s.NAMESPACE, "ns", fx.namespace()),
        R(k8s.NETWORK_POLICY, "deny", fx.default_deny()),
    ]
    assert cluster.namespace_isolation_violations(resources) == []


def test_namespace_without_default_deny_fails() -> None:
    findings = cluster.namespace_isolation_violations([R(k8s.NAMESPACE, "ns", fx.namespace())])
    assert findings == [
        Finding(
            'Namespace "dockyard": needs a default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules)',
            "urn:ns",
        )
    ]


def test_policy_in_another_namespace_does_not_count() -> None:
    resources = [
        R(k8s.NAMESPACE, "ns", fx.namespace()),
        R(k8s.NETWORK_POLICY, "deny", fx.default_deny("other")),
    ]
    assert len(cluster.namespace_isolation_violations(resources)) == 1


def test_not_default_deny_shapes() -> None:
    only_ingress = fx.default_deny()
    only_ingress["spec"]["policyTypes"] = ["Ingress"]
    with_rule = fx.default_deny()
    with_rule["spec"]["ingress"] = [{"from": [{"podSelector": {}}]}]
    selective = fx.default_deny()
    selective["spec"]["podSelector"] = {"matchLabels": {"app": "backend"}}
    for props in (only_ingress, with_rule, selective):
        assert not cluster.is_default_deny(props), props
    assert cluster.is_default_deny(fx.default_deny())


def test_namespace_without_restricted_psa_label_fails() -> None:
    ns = fx.namespace()
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    findings = cluster.namespace_isolation_violations(
        [R(k8s.NAMESPACE, "ns", ns), R(k8s.NETWORK_POLICY, "d", fx.default_deny())]
    )
    assert [f.message for f in findings] == [
        'Namespace "dockyard": label pod-security.kubernetes.io/enforce must be "restricted"'
    ]


def test_auto_named_namespace_matches_by_resource_name() -> None:
    ns = fx.namespace()
    del ns["metadata"]["name"]
    resources = [
        R(k8s.NAMESPACE, "dockyard", ns),
        R(k8s.NETWORK_POLICY, "d", fx.default_deny("dockyard")),
    ]
    assert cluster.namespace_isolation_violations(resources) == []


def test_replicated_workload_with_pdb_passes() -> None:
    resources = [
        R(k8s.DEPLOYMENT, "backend", fx.deployment()),
        R(k8s.POD_DISRUPTION_BUDGET, "pdb", fx.pdb()),
    ]
    assert cluster.pod_disruption_budget_violations(resources) == []


def test_replicated_workload_without_pdb_fails() -> None:
    resources = [
        R(k8s.DEPLOYMENT, "backend", fx.deployment(replicas=3)),
        R(k8s.POD_DISRUPTION_BUDGET, "pdb", fx.pdb("frontend")),
    ]
    assert cluster.pod_disruption_budget_violations(resources) == [
        Finding(
            'Deployment "backend" has 3 replicas but no PodDisruptionBudget selects its pods',
            "urn:backend",
        )
    ]


def test_single_replica_needs_no_pdb_and_pdb_namespace_must_match() -> None:
    assert cluster.pod_disruption_budget_violations([R(k8s.STATEFUL_SET, "pg", fx.deployment("pg", replicas=1))]) == []
    resources = [
        R(k8s.DEPLOYMENT, "backend", fx.deployment()),
        R(k8s.POD_DISRUPTION_BUDGET, "pdb", fx.pdb(namespace_name="other")),
    ]
    assert len(cluster.pod_disruption_budget_violations(resources)) == 1


def test_pdb_match_expressions() -> None:
    budget = fx.pdb()
    budget["spec"]["selector"] = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api", "web"]}]}
    resources = [
        R(k8s.DEPLOYMENT, "backend", fx.deployment()),
        R(k8s.POD_DISRUPTION_BUDGET, "pdb", budget),
    ]
    assert cluster.pod_disruption_budget_violations(resources) == []
    budget["spec"]["selector"]["matchExpressions"][0]["operator"] = "NotIn"
    assert len(cluster.pod_disruption_budget_violations(resources)) == 1


def test_a_stateful_set_must_be_governed_by_a_headless_service() -> None:
    stateful = fx.deployment("postgres", replicas=1)
    stateful["spec"]["serviceName"] = "postgres-headless"
    headless = {"metadata": {"name": "postgres-headless", "namespace": "dockyard"}, "spec": {"clusterIP": "None"}}
    client = {"metadata": {"name": "postgres", "namespace": "dockyard"}, "spec": {"type": "ClusterIP"}}
    ok = [R(k8s.STATEFUL_SET, "pg", stateful), R(k8s.SERVICE, "h", headless), R(k8s.SERVICE, "c", client)]
    assert cluster.headless_governing_service_violations(ok) == []
    stateful["spec"]["serviceName"] = "postgres"  # the ClusterIP Service
    assert cluster.headless_governing_service_violations(ok) == [
        Finding(
            "StatefulSet \"postgres\": serviceName 'postgres' must name a headless Service (clusterIP: None) in its namespace",
            "urn:pg",
        )
    ]
    headless["metadata"]["namespace"] = "other"
    stateful["spec"]["serviceName"] = "postgres-headless"
    assert len(cluster.headless_governing_service_violations(ok)) == 1  # another namespace's does not govern it
