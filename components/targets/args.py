"""`EnvironmentArgs`: what every target environment renders, the same for Docker and Kubernetes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.plan.resolve import ResolvedStack


@dataclass(frozen=True)
class EnvironmentArgs:
    stack: ResolvedStack
    images: Mapping[str, pulumi.Input[str]]  # service -> the image it runs on this target
    secrets: Mapping[str, pulumi.Output[str]]  # secret name -> its value (plan/secrets.py)
