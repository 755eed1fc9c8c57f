"""Kubernetes quantities (`512Mi`, `250m`): parsed, checked, halved, and written in the forms
each provider reads back. The one place the program does arithmetic on them."""

from __future__ import annotations

import math
import re
from decimal import Decimal

MIN_MEMORY_BYTES = 6 * 2**20  # Docker refuses a smaller memory limit ("Minimum memory limit allowed is 6MB")
# Kubernetes' smallest CPU unit; a finer quantity is rounded up by the API server.
MIN_CPU_MILLICORES = 1
# Docker runs a container's CPU limit as a CFS quota over a 100 ms period, and the kernel refuses a
# quota under 1 ms: below 10m (0.01) the container does not start ("Range of CPUs is from 0.01").
MIN_DOCKER_CPU_MILLICORES = 10
_MEMORY = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(?:[0-9]+m|[0-9]+(?:\.[0-9]{1,3})?)$")
# What a CPU quantity looks like whatever its precision: told apart from _CPU to say "too fine".
_CPU_ANY = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<milli>m)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
CPU_FORMS = "such as 250m, 0.5 or 2 (whole millicores: at most 3 decimals, no fraction of an m)"


def _exact_bytes(quantity: str) -> Decimal:
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return Decimal(match["n"]) * _MEMORY_FACTORS[match["unit"]]


def memory_bytes(quantity: str) -> int:
    """Bytes in a Kubernetes memory quantity such as `256Mi` or `1G` (exact: `1.5Gi` is
    1610612736; check_memory refuses a fraction of a byte, which Kubernetes would round up)."""
    return int(_exact_bytes(quantity))


def cpu_cores(quantity: str) -> float:
    """Cores in a Kubernetes CPU quantity such as `500m` or `1.5`."""
    if not _CPU.match(quantity):
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def cpu_millicores(quantity: str) -> int:
    """Whole millicores in a CPU quantity check_cpu accepts: `250m` and `0.25` are 250."""
    if not _CPU.match(quantity):
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return int(quantity[:-1]) if quantity.endswith("m") else int(Decimal(quantity) * 1000)


def check_memory(value: str | None) -> str | None:
    """`value` when it is a memory limit Docker and Kubernetes both take; else ValueError."""
    if value is None:
        return value
    if not _MEMORY.match(value):
        raise ValueError(
            "must be a memory quantity of at least 6Mi such as 128Mi, 512Mi or 1Gi (units Ki, Mi, Gi, Ti, k, M, G, T)"
        )
    exact = _exact_bytes(value)
    if exact != int(exact):
        raise ValueError(
            f"is {exact} bytes, a fraction of a byte, which Kubernetes would round up: "
            "write a whole number of bytes, e.g. in Ki or Mi (1536Ki, not 1.5001Mi)"
        )
    if exact < MIN_MEMORY_BYTES:
        raise ValueError(
            "is below 6Mi, the smallest memory limit Docker takes: write a memory quantity of at least 6Mi "
            "such as 128Mi, 512Mi or 1Gi (units Ki, Mi, Gi, Ti, k, M, G, T)"
        )
    return value


def check_cpu(value: str | None) -> str | None:
    """`value` when it is a CPU limit Kubernetes keeps as written (whole millicores, at least
    1m); else ValueError saying what is allowed. Docker's own floor (10m) is a rule of the
    stacks that run Docker (plan/stack_rules.py)."""
    if value is None:
        return value
    match = _CPU_ANY.match(value)
    if not match:
        raise ValueError(f"must be a CPU quantity above 0 {CPU_FORMS}")
    millicores = Decimal(match["n"]) * (1 if match["milli"] else 1000)
    if millicores == 0:
        raise ValueError(f"must be a CPU quantity above 0 {CPU_FORMS}")
    if millicores != int(millicores):
        rounded = max(MIN_CPU_MILLICORES, math.ceil(millicores))
        raise ValueError(
            f"is {millicores.normalize():f}m, finer than 1m (0.001), Kubernetes' smallest CPU unit: it would "
            f"run it as {rounded}m; write whole millicores, e.g. {rounded}m"
        )
    return value


def half_memory(quantity: str) -> str:
    """Half a memory quantity, in Mi when whole, else Ki (a Kubernetes request)."""
    half = memory_bytes(quantity) // 2
    return f"{half // 2**20}Mi" if half % 2**20 == 0 else f"{half // 2**10}Ki"


def half_cpu(quantity: str) -> str:
    return f"{max(1, round(cpu_cores(quantity) * 1000 / 2))}m"


def memory_mb(quantity: str) -> int:
    """Whole MiB: the unit of the Docker provider's `memory`."""
    return memory_bytes(quantity) // 2**20


def provider_cpus(quantity: str) -> str:
    """A CPU quantity as the Docker provider writes NanoCPUs back into state (its
    nanoInt64ToDecimalString): nine decimals, then one decimal if the string has exactly
    nine zeros, else trailing zeros trimmed. Sending that form avoids a replacement on
    every `up` (`"1"` reads back as `"1.0"`)."""
    value = Decimal(int(round(cpu_cores(quantity) * 1e9))) / Decimal(10**9)
    nine = f"{value:.9f}"
    if nine.count("0") == 9:
        return f"{value:.1f}"
    return nine.rstrip("0")
