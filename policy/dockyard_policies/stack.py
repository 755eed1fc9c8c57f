"""Adapters between the policy server's stack arguments and the pure stack rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .common import StackResource


def stack_resources(policy_resources: Iterable[Any]) -> list[StackResource]:
    """pulumi_policy.PolicyResource objects -> plain StackResource tuples."""
    return [
        StackResource(r.resource_type, r.name, r.props, r.urn) for r in policy_resources
    ]
