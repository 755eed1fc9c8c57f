"""Every stack's mocked resource graph passes the whole pack with no mandatory violation.

The program runs under Pulumi mocks (tests/harness.py); the pack runs in-process through the
same adapters the policy server uses, with the stack's policy config from policy/config/.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from dockyard_policies.pack import RULES_BY_NAME, Resource, evaluate, mandatory

from tests.tiers import require

from .conftest import POLICY_DIR

PROJECT_DIR = POLICY_DIR.parent
STACKS = ("dev", "staging", "prod")
PRESENT = [s for s in STACKS if (PROJECT_DIR / f"Pulumi.{s}.yaml").exists()]
HARNESS = PROJECT_DIR / "tests" / "harness.py"
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
    assert path.exists(), (
        f"stack {stack} has no policy config at {path.relative_to(PROJECT_DIR)}"
    )
    return json.loads(path.read_text())


# Config variants of a stack that change its resources (design: `dev.hotReload`).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    **{stack: (stack, {}) for stack in PRESENT},
    **(
        {"dev+hotReload": ("dev", {"dev": {"hotReload": True}})}
        if "dev" in PRESENT
        else {}
    ),
}


def _resources(stack: str, config: dict[str, Any]) -> list[Resource]:
    require(HARNESS.exists(), "tests/harness.py (mocked program runs) has not landed")
    from tests.harness import outside_inputs, run_program

    run = run_program(stack, config, **outside_inputs(stack))
    return [Resource(r.type, r.name, r.inputs, r.urn) for r in run.resources]


@pytest.fixture(scope="module", params=sorted(VARIANTS) or ["dev"])
def stack_resources(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    require(bool(PRESENT), "no Pulumi.<stack>.yaml exists yet")
    stack, config = VARIANTS[request.param]
    return stack, _resources(stack, config)


def test_every_stack_file_has_a_policy_config() -> None:
    for stack in PRESENT:
        _policy_config(stack)


def test_stack_passes_the_pack(stack_resources: tuple[str, list[Resource]]) -> None:
    stack, resources = stack_resources
    assert CHECKED_TYPES & {r.type for r in resources}, (
        f"{stack}: the run registered nothing the pack checks"
    )
    violations = mandatory(evaluate(resources, _policy_config(stack)))
    assert violations == [], "\n".join(
        f"{v.policy}: {v.message} ({v.urn})" for v in violations
    )


def test_the_pack_really_sees_the_stack(
    stack_resources: tuple[str, list[Resource]],
) -> None:
    """Weakening one checked resource of the real graph must produce a mandatory violation."""
    stack, resources = stack_resources
    broken = copy.deepcopy(resources)
    target = next(r for r in broken if r.type in CHECKED_TYPES)
    weakened = dict(target.props)
    if target.type == "docker:index/container:Container":
        weakened["privileged"] = True
        expected = "docker-no-host-access"
    elif target.type == "docker-build:index:Image":
        weakened["buildArgs"] = {**(weakened.get("buildArgs") or {}), "NPM_TOKEN": "x"}
        expected = "build-no-secret-build-args"
    elif target.type == "kubernetes:core/v1:Namespace":
        weakened["metadata"] = {**weakened.get("metadata", {}), "labels": {}}
        expected = "k8s-namespace-isolation"
    else:
        template = weakened["spec"]["template"]["spec"]
        template["hostNetwork"] = True
        expected = "k8s-pod-security-restricted"
    assert expected in RULES_BY_NAME
    broken[broken.index(target)] = target._replace(props=weakened)
    assert expected in {
        v.policy for v in mandatory(evaluate(broken, _policy_config(stack)))
    }
