"""Skip-or-fail for test tiers: a tier that cannot run here skips with its reason,
and fails instead under CI (CI=true), so a green CI means every tier ran."""

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when `condition` is false."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)
