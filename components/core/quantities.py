"""Kubernetes quantities (`512Mi`, `250m`): parsed, checked, halved, and written in the forms
each provider reads back. The one place the program does arithmetic on them."""

from __future__ import annotations

import re
from decimal import Decimal

MIN_MEMORY_BYTES = 6 * 2**20  # Docker refuses a smaller memory limit
_MEMORY = re.compile(r"^(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(?:[0-9]+m|[0-9]+(?:\.[0-9]{1,3})?)$")
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


def memory_bytes(quantity: str) -> int:
    """Bytes in a Kubernetes memory quantity such as `256Mi` or `1G`."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match["n"]) * _MEMORY_FACTORS[match["unit"]])


def cpu_cores(quantity: str) -> float:
    """Cores in a Kubernetes CPU quantity such as `500m` or `1.5`."""
    if not _CPU.match(quantity):
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def check_memory(value: str | None) -> str | None:
    """`value` when it is a memory limit Docker and Kubernetes both take; else ValueError."""
    if value is None:
        return value
    if not _MEMORY.match(value) or memory_bytes(value) < MIN_MEMORY_BYTES:
        raise ValueError(
            "must be a memory quantity of at least 6Mi such as 128Mi, 512Mi or 1Gi (units Ki, Mi, Gi, Ti, k, M, G, T)"
        )
    return value


def check_cpu(value: str | None) -> str | None:
    if value is None:
        return value
    if not _CPU.match(value) or cpu_cores(value) <= 0:
        raise ValueError("must be a CPU quantity above 0 such as 250m, 0.5 or 2")
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
