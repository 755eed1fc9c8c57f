"""Every stack's mocked resource graph passes the whole pack with no mandatory violation.

The program runs under Pulumi mocks (testing/harness.py); the pack runs in-process through the
same adapters the policy server uses, with the stack's policy config from policy/config/.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

import pytest

from tests.tiers import require

from .conftest import POLICY_DIR
from .evaluator import RULES_BY_NAME, Resource, evaluate, mandatory

PROJECT_DIR = POLICY_DIR.parent
STACKS = ("dev", "staging", "prod")
PRESENT = [s for s in STACKS if (PROJECT_DIR / f"Pulumi.{s}.yaml").exists()]
HARNESS = PROJECT_DIR / "testing" / "harness.py"
# Resource types at least one rule of the pack inspects: a run without any proves nothing.
CHECKED_TYPES = {
    "docker:index/container:Container",
    "docker-build:index:Image",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:core/v1:Namespace",
}


def _policy_config(stack: str) -> dict[str, Any]:
    path = POLICY_DIR / "config" / f"{stack}.json"
    assert path.exists(), f"stack {stack} has no policy config at {path.relative_to(PROJECT_DIR)}"
    return json.loads(path.read_text())


# Config variants of a stack that change its resources (design: `dev.hotReload`; issue 23: the
# debuggers and the dev Prometheus with its config writer).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{stack: (stack, {}) for stack in PRESENT},
    **({"dev+hotReload": ("dev", {"dev": {"hotReload": True}})} if "dev" in PRESENT else {}),
    **({"dev+debug+monitoring": ("dev", {"dev": {"debug": True, "monitoring": True}})} if "dev" in PRESENT else {}),
}


# The resources that run a catalog service, and the label each carries with its service's name.
WORKLOAD_TYPES = {
    "docker:index/container:Container",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:batch/v1:Job",
}
DOCKER_SERVICE_LABEL = "dockyard.dev/service"
K8S_NAME_LABEL = "app.kubernetes.io/name"


class StackRun(NamedTuple):
    stack: str
    resources: list[Resource]
    services: tuple[str, ...]  # what the stack runs: the catalog resolved under its settings


def _run(stack: str, config: dict[str, Any]) -> StackRun:
    require(HARNESS.exists(), "testing/harness.py (mocked program runs) has not landed")
    from components.plan.resolve import resolve
    from components.plan.validate import validate
    from testing.harness import CATALOG, merge, outside_inputs, run_program, stack_config

    inputs = outside_inputs(stack)
    run = run_program(stack, config, **inputs)
    raw = merge(stack_config(stack), config)
    settings = validate(stack, raw, set(inputs.get("secrets") or {}), PROJECT_DIR, CATALOG)
    services = tuple(resolve(CATALOG, settings).services)
    return StackRun(stack, [Resource(r.type, r.name, r.inputs, r.urn) for r in run.resources], services)


@pytest.fixture(scope="module", params=sorted(VARIANTS) or ["dev"])
def stack_resources(request: pytest.FixtureRequest) -> StackRun:
    require(bool(PRESENT), "no Pulumi.<stack>.yaml exists yet")
    stack, config = VARIANTS[request.param]
    return _run(stack, config)


def _service_of(resource: Resource) -> str | None:
    """The catalog service a workload resource runs (None for other resources)."""
    if resource.type not in WORKLOAD_TYPES:
        return None
    if resource.type == "docker:index/container:Container":
        labels = {item["label"]: item["value"] for item in resource.props.get("labels") or []}
        return labels.get(DOCKER_SERVICE_LABEL)
    return ((resource.props.get("metadata") or {}).get("labels") or {}).get(K8S_NAME_LABEL)


def _weakened(resource: Resource) -> tuple[Resource, str]:
    """The resource with one checked field broken, and the policy that must catch it."""
    weakened = copy.deepcopy(dict(resource.props))
    if resource.type == "docker:index/container:Container":
        weakened["privileged"] = True
        expected = "docker-no-host-access"
    elif resource.type == "docker-build:index:Image":
        weakened["buildArgs"] = {**(weakened.get("buildArgs") or {}), "NPM_TOKEN": "x"}
        expected = "build-no-secret-build-args"
    elif resource.type == "kubernetes:core/v1:Namespace":
        weakened["metadata"] = {**weakened.get("metadata", {}), "labels": {}}
        expected = "k8s-namespace-isolation"
    else:
        template = weakened["spec"]["template"]["spec"]
        template["hostNetwork"] = True
        expected = "k8s-pod-security-restricted"
    assert expected in RULES_BY_NAME
    return resource._replace(props=weakened), expected


def test_every_stack_file_has_a_policy_config() -> None:
    for stack in PRESENT:
        _policy_config(stack)


def test_stack_passes_the_pack(stack_resources: StackRun) -> None:
    stack, resources, _ = stack_resources
    assert CHECKED_TYPES & {r.type for r in resources}, f"{stack}: the run registered nothing the pack checks"
    violations = mandatory(evaluate(resources, _policy_config(stack)))
    assert violations == [], "\n".join(f"{v.policy}: {v.message} ({v.urn})" for v in violations)


def test_the_pack_really_sees_the_stack(stack_resources: StackRun) -> None:
    """Weakening one checked resource of the real graph must produce a mandatory violation."""
    stack, resources, _ = stack_resources
    broken = copy.deepcopy(resources)
    target = next(r for r in broken if r.type in CHECKED_TYPES)
    weakened, expected = _weakened(target)
    broken[broken.index(target)] = weakened
    assert expected in {v.policy for v in mandatory(evaluate(broken, _policy_config(stack)))}


def test_the_pack_sees_every_service_the_stack_runs(stack_resources: StackRun) -> None:
    """Each service the catalog gives this stack runs as a workload the pack checks: weakening
    that workload produces a mandatory violation on it."""
    stack, resources, services = stack_resources
    assert services, f"{stack}: the catalog gives this stack no service"
    workloads: dict[str, list[Resource]] = {}
    for resource in resources:
        if (service := _service_of(resource)) is not None:
            workloads.setdefault(service, []).append(resource)
    assert sorted(workloads) == sorted(services), stack
    config = _policy_config(stack)
    for service, runs_it in workloads.items():
        for target in runs_it:
            weakened, expected = _weakened(target)
            broken = [weakened if r is target else r for r in resources]
            caught = {(v.policy, v.urn) for v in mandatory(evaluate(broken, config))}
            assert (expected, target.urn) in caught, (stack, service, target.type)
