"""Resource values one target would run differently from what the stack says, refused before
anything exists: the catalog's and the settings' grammars take what Kubernetes keeps as written;
these are the Docker engine's own bounds, for the stacks that run it.

- CPU: Docker runs a limit as a CFS quota over a 100 ms period, and the kernel refuses a quota
  under 1 ms, so below 10m the container does not start.
- Memory: the Docker provider's `memory` is in whole MiB, so `100M` (95.37Mi) would run as 95Mi
  while Kubernetes runs 100M; a whole number of MiB is run as written on both.
"""

from __future__ import annotations

from decimal import Decimal

from components.config.catalog import ServiceSpec
from components.core.problems import Problem
from components.core.quantities import MIN_DOCKER_CPU_MILLICORES, cpu_millicores, memory_bytes
from components.plan.view import StackView

MIB = 2**20


def _where(spec: ServiceSpec, overridden: bool, field_name: str) -> str:
    if overridden:
        return f"here (services.{spec.name}.{field_name})"
    return f"in catalog.yaml (services.{spec.name}.resources.{field_name}), or here for this stack"


def _cpu_problem(spec: ServiceSpec, cpu: str, overridden: bool) -> Problem | None:
    if cpu_millicores(cpu) >= MIN_DOCKER_CPU_MILLICORES:
        return None
    return Problem(
        f"services.{spec.name}.cpu",
        cpu,
        f"is below {MIN_DOCKER_CPU_MILLICORES}m (0.01), the smallest CPU limit Docker runs (a 100 ms CFS "
        f"period and the kernel's 1 ms minimum quota): the container would not start; set at least "
        f"{MIN_DOCKER_CPU_MILLICORES}m {_where(spec, overridden, 'cpu')}",
    )


def _memory_problem(spec: ServiceSpec, memory: str, overridden: bool) -> Problem | None:
    size = memory_bytes(memory)
    if size % MIB == 0:
        return None
    whole = size // MIB
    exact = (Decimal(size) / MIB).quantize(Decimal("0.01"))
    return Problem(
        f"services.{spec.name}.memory",
        memory,
        f"is {exact}Mi: Docker takes memory limits in whole Mi and would run {whole}Mi where Kubernetes "
        f"runs {memory}; write a whole number of Mi ({whole}Mi or {whole + 1}Mi, or Gi) "
        f"{_where(spec, overridden, 'memory')}",
    )


def docker_limit_problems(view: StackView) -> list[Problem]:
    """Each enabled service's CPU and memory limit (the stack's override, else the catalog's)
    that Docker would refuse or run differently; nothing for a stack that does not run Docker."""
    settings = view.settings
    if not settings.runs_docker:
        return []
    problems = []
    for spec in view.catalog.services:
        if spec.name not in view.enabled:
            continue
        override = settings.service(spec.name)
        cpu = _cpu_problem(spec, override.cpu or spec.resources.cpu, override.cpu is not None)
        memory = _memory_problem(spec, override.memory or spec.resources.memory, override.memory is not None)
        problems += [problem for problem in (cpu, memory) if problem is not None]
    return problems
