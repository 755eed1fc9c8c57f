"""The pack as a whole: every policy through its pulumi_policy adapter, config and enforcement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dockyard_policies import builds, docker
from dockyard_policies.kubernetes import workloads as k8s
from dockyard_policies.pack import RULES, build_policies
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from . import fixtures as fx
from .conftest import POLICY_DIR
from .evaluator import Resource, evaluate, mandatory, validate_pack_config


def compliant_stack() -> list[Resource]:
    return [
        Resource(k8s.NAMESPACE, "ns", fx.namespace()),
        Resource(k8s.NETWORK_POLICY, "deny", fx.default_deny()),
        Resource(k8s.DEPLOYMENT, "backend", fx.deployment()),
        Resource(k8s.POD_DISRUPTION_BUDGET, "pdb", fx.pdb()),
        Resource(k8s.JOB, "migrate", fx.job()),
        Resource(k8s.CRON_JOB, "cleanup", fx.cron_job()),
        Resource(
            k8s.SERVICE,
            "svc",
            {"metadata": {"name": "backend"}, "spec": {"type": "ClusterIP"}},
        ),
        Resource(docker.CONTAINER, "backend", fx.docker_container()),
        Resource(builds.IMAGE, "backend-image", fx.image_build()),
    ]


def broken_stack() -> list[Resource]:
    """One resource per domain with every rule broken at least once."""
    dep = fx.deployment(replicas=3, hostNetwork=True, automountServiceAccountToken=True)
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c.update(
        image="nginx:latest",
        env=[{"name": "API_TOKEN", "value": "t0k3n"}],
        resources={},
    )
    c.pop("livenessProbe")
    c["securityContext"]["readOnlyRootFilesystem"] = False
    ns = fx.namespace()
    ns["metadata"]["labels"] = {}
    stateful = fx.deployment("postgres", replicas=1)
    stateful["spec"]["serviceName"] = "postgres"  # names no headless Service
    return [
        Resource(k8s.NAMESPACE, "ns", ns),
        Resource(k8s.DEPLOYMENT, "backend", dep),
        Resource(k8s.STATEFUL_SET, "postgres", stateful),
        Resource(
            k8s.SERVICE,
            "svc",
            {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}},
        ),
        Resource(
            docker.CONTAINER,
            "backend",
            fx.docker_container(
                user="root",
                readOnly=False,
                capabilities={"adds": ["SYS_ADMIN"]},
                securityOpts=[],
                memory=None,
                healthcheck=None,
                ports=[{"internal": 8000, "external": 8000}],
                privileged=True,
            ),
        ),
        Resource(
            builds.IMAGE,
            "backend-image",
            fx.image_build(
                tags=["app:latest"],
                registries=[],
                buildArgs={"NPM_TOKEN": "x"},
                cacheTo=[],
            ),
        ),
    ]


STACK_CONFIG = {
    "build-registry-cache": {"requireRegistryCache": True},
    "k8s-image-pinning": {"requireDigests": True},
}


def test_pack_builds_one_mandatory_policy_per_rule_with_a_reason() -> None:
    policies = build_policies()
    assert [p.name for p in policies] == [r.name for r in RULES]
    assert len({p.name for p in policies}) == len(policies) == 24
    for policy in policies:
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name
        assert len(policy.description) > 60, f"{policy.name}: the description must say why"
        assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))
    stack_names = {p.name for p in policies if isinstance(p, StackValidationPolicy)}
    assert stack_names == {
        "k8s-service-account-token",
        "k8s-namespace-isolation",
        "k8s-statefulset-headless-service",
        "k8s-pod-disruption-budget",
    }


def test_config_schemas_declare_the_stack_switches() -> None:
    schemas = {p.name: p.config_schema.properties for p in build_policies() if p.config_schema}
    defaults = {
        name: {key: (spec["type"], spec["default"]) for key, spec in props.items()} for name, props in schemas.items()
    }
    assert defaults == {
        "k8s-image-pinning": {"requireDigests": ("boolean", False)},
        "k8s-no-load-balancer": {"allowLoadBalancer": ("boolean", False)},
        "docker-loopback-ports": {"requireLoopbackPorts": ("boolean", True)},
        "build-registry-cache": {"requireRegistryCache": ("boolean", False)},
    }
    assert all(spec["description"] for props in schemas.values() for spec in props.values())


def test_compliant_stack_has_no_violation_at_all() -> None:
    assert evaluate(compliant_stack(), STACK_CONFIG) == []


def test_every_policy_reports_on_the_broken_stack() -> None:
    violations = evaluate(broken_stack(), STACK_CONFIG)
    assert {v.policy for v in violations} == {r.name for r in RULES}
    assert all(v.enforcement == EnforcementLevel.MANDATORY for v in violations)
    assert all(v.urn and v.urn.startswith("urn:pulumi:") for v in violations)


def test_violation_urn_points_at_the_offending_resource() -> None:
    violations = evaluate(broken_stack(), STACK_CONFIG)
    by_policy = {v.policy: v for v in violations}
    assert by_policy["k8s-pod-disruption-budget"].urn.endswith("::backend")
    assert by_policy["docker-memory-limit"].urn.endswith("docker:index/container:Container::backend")
    assert by_policy["build-no-latest-tag"].urn.endswith("docker-build:index:Image::backend-image")


def test_config_switches_change_the_outcome() -> None:
    lb = [
        Resource(
            k8s.SERVICE,
            "svc",
            {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}},
        )
    ]
    assert [v.policy for v in evaluate(lb)] == ["k8s-no-load-balancer"]
    assert evaluate(lb, {"k8s-no-load-balancer": {"allowLoadBalancer": True}}) == []
    open_port = [
        Resource(
            docker.CONTAINER,
            "c",
            fx.docker_container(ports=[{"internal": 1, "ip": "0.0.0.0"}]),
        )
    ]
    assert [v.policy for v in evaluate(open_port)] == ["docker-loopback-ports"], "loopback is required by default"
    assert evaluate(open_port, {"docker-loopback-ports": {"requireLoopbackPorts": False}}) == []


def test_a_rule_can_be_made_advisory_or_disabled_per_stack() -> None:
    lb = [
        Resource(
            k8s.SERVICE,
            "svc",
            {"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}},
        )
    ]
    advisory = evaluate(lb, {"k8s-no-load-balancer": {"enforcementLevel": "advisory"}})
    assert [(v.policy, v.enforcement) for v in advisory] == [("k8s-no-load-balancer", EnforcementLevel.ADVISORY)]
    assert mandatory(advisory) == []
    assert evaluate(lb, {"k8s-no-load-balancer": "disabled"}) == []
    assert mandatory(evaluate(lb, {"all": "advisory"})) == []


@pytest.mark.parametrize(
    "config,expected",
    [
        (
            {"k8s-no-such-rule": "advisory"},
            "unknown policy 'k8s-no-such-rule'; known: build-no-latest-tag",
        ),
        (
            {"k8s-no-load-balancer": {"allowLoadbalancer": True}},
            "k8s-no-load-balancer: unknown property 'allowLoadbalancer'; allowed: ['allowLoadBalancer']",
        ),
        (
            {"k8s-no-load-balancer": {"allowLoadBalancer": "yes"}},
            "k8s-no-load-balancer.allowLoadBalancer must be true or false, got 'yes'",
        ),
        (
            {"docker-memory-limit": "strict"},
            "docker-memory-limit.enforcementLevel 'strict' is not one of",
        ),
        ({"all": "loud"}, "all: enforcement level 'loud' is not one of"),
    ],
)
def test_bad_config_is_rejected_with_what_is_allowed(config: dict, expected: str) -> None:
    with pytest.raises(ValueError, match="invalid policy pack config") as err:
        validate_pack_config(config)
    assert expected in str(err.value)


@pytest.mark.parametrize("path", sorted((POLICY_DIR / "config").glob("*.json")), ids=lambda p: p.name)
def test_shipped_stack_configs_are_valid(path: Path) -> None:
    validate_pack_config(json.loads(path.read_text()))


def test_staging_and_prod_configs_require_digests_and_registry_cache() -> None:
    for stack in ("staging", "prod"):
        config = json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())
        assert config["k8s-image-pinning"]["requireDigests"] is True, stack
        assert config["build-registry-cache"]["requireRegistryCache"] is True, stack
