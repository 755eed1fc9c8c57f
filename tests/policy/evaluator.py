"""The pack run in-process, as the policy server would run it: no CLI, no gRPC.

`evaluate` calls each pulumi_policy object that `build_policies()` returns (the same adapters the
server calls) over plain resources, with config in the `--policy-pack-config` JSON shape, and
returns every violation with its enforcement level. Test support only: the pack never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from dockyard_policies.pack import DEFAULT_ENFORCEMENT, RULES, Rule, build_policies
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


class Violation(NamedTuple):
    policy: str
    enforcement: EnforcementLevel
    message: str
    urn: str | None


class Resource(NamedTuple):
    """What `evaluate` needs of a resource: type token, Pulumi name, input props."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str | None = None


def validate_pack_config(config: Mapping[str, Any]) -> None:
    """Reject unknown policy names, flags and enforcement levels, naming what is allowed."""
    levels = {level.value for level in EnforcementLevel}
    problems = []
    for key, value in config.items():
        if key == "all":
            if value not in levels and not (isinstance(value, Mapping) and value.get("enforcementLevel") in levels):
                problems.append(f"all: enforcement level {value!r} is not one of {sorted(levels)}")
            continue
        rule = RULES_BY_NAME.get(key)
        if rule is None:
            problems.append(f"unknown policy {key!r}; known: {', '.join(sorted(RULES_BY_NAME))}")
            continue
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, Mapping):
            problems.append(f"{key}: expected an enforcement level or an object, got {value!r}")
            continue
        allowed = {f.name for f in rule.flags}
        for prop, prop_value in value.items():
            if prop == "enforcementLevel":
                if prop_value not in levels:
                    problems.append(f"{key}.enforcementLevel {prop_value!r} is not one of {sorted(levels)}")
            elif prop not in allowed:
                problems.append(f"{key}: unknown property {prop!r}; allowed: {sorted(allowed) or 'none'}")
            elif not isinstance(prop_value, bool):
                problems.append(f"{key}.{prop} must be true or false, got {prop_value!r}")
    if problems:
        raise ValueError("invalid policy pack config:\n  " + "\n  ".join(problems))


def _level(rule_name: str, config: Mapping[str, Any]) -> EnforcementLevel:
    value = config.get(rule_name)
    if isinstance(value, str):
        return EnforcementLevel(value)
    if isinstance(value, Mapping) and "enforcementLevel" in value:
        return EnforcementLevel(value["enforcementLevel"])
    overall = config.get("all")
    if isinstance(overall, Mapping):
        overall = overall.get("enforcementLevel")
    return EnforcementLevel(overall) if overall else DEFAULT_ENFORCEMENT


def _properties(rule_name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    value = config.get(rule_name)
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if k != "enforcementLevel"}


def evaluate(resources: Iterable[Resource], config: Mapping[str, Any] | None = None) -> list[Violation]:
    """Run every policy of the pack over `resources` as the policy server would (config in the
    `--policy-pack-config` JSON shape) and return every violation with its enforcement level."""
    config = dict(config or {})
    validate_pack_config(config)
    resources = [r._replace(urn=r.urn or f"urn:pulumi:test::dockyard::{r.type}::{r.name}") for r in resources]
    out: list[Violation] = []
    for policy in build_policies():
        level = _level(policy.name, config)
        if level == EnforcementLevel.DISABLED:
            continue
        for args, urn in _validation_calls(policy, resources, _properties(policy.name, config)):
            policy.validate(args, _reporter(out, policy.name, level, urn))
    return out


def _validation_calls(
    policy: Policy, resources: list[Resource], config: Mapping[str, Any]
) -> list[tuple[ResourceValidationArgs | StackValidationArgs, str | None]]:
    """The arguments the policy server would pass `policy.validate`: one call over the whole stack
    for a stack policy, one per resource otherwise; each with the URN a violation defaults to.

    pulumi_policy has no public way to run a pack in-process: `PolicyPack(...)` starts the gRPC
    server, and what builds these arguments from a request is its private `_PolicyAnalyzerServicer`.
    So this plays the servicer's part, with the argument classes the SDK exports and their keyword
    arguments. Two differences, both covered by test_policy_server.py, which runs the real server:
    props are plain dicts (not the SDK's unknown-value-checking proxies), and no provider is known.
    """
    # Options as the server builds them for a resource registered without any.
    opts = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(create_seconds=0, update_seconds=0, delete_seconds=0),
        additional_secret_outputs=[],
        parent=None,
    )
    if isinstance(policy, StackValidationPolicy):
        stack = [
            PolicyResource(
                resource_type=r.type,
                props=r.props,
                urn=r.urn,
                name=r.name,
                opts=opts,
                provider=None,
                parent=None,
                dependencies=[],
                property_dependencies={},
            )
            for r in resources
        ]
        return [(StackValidationArgs(resources=stack, config=config), None)]
    return [
        (
            ResourceValidationArgs(
                resource_type=r.type,
                props=r.props,
                urn=r.urn,
                name=r.name,
                opts=opts,
                provider=None,
                config=config,
            ),
            r.urn,
        )
        for r in resources
    ]


def _reporter(out: list[Violation], policy: str, level: EnforcementLevel, default_urn: str | None):
    def report_violation(message: str, urn: str | None = None) -> None:
        out.append(Violation(policy, level, message, urn or default_urn))

    return report_violation


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.enforcement == EnforcementLevel.MANDATORY]
