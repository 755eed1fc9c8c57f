"""Go durations (`250ms`, `1m30s`): parsed from the catalog, printed as Go's time.Duration does.

The Docker provider reads health-check durations back in Go's form, so sending that form
keeps a second `pulumi up` free of changes.
"""

from __future__ import annotations

import re

NANOS_PER = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def duration_nanos(text: str) -> int:
    """`1m30s` -> 90_000_000_000. Raises ValueError naming the accepted form."""
    parts = _PART.findall(text) if isinstance(text, str) else []
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit (ms, s, m, h), such as 250ms, 15s or 1m30s"
        )
    return sum(round(float(number) * NANOS_PER[unit]) for number, unit in parts)


def _decimal(whole: int, fraction: int, digits: int) -> str:
    tail = f"{fraction:0{digits}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def go_duration(nanos: int) -> str:
    """Nanoseconds as Go's Duration.String prints them: `250ms`, `2s`, `1m0s`, `1h0m0s`."""
    if nanos == 0:
        return "0s"
    if nanos < NANOS_PER["s"]:
        for unit, digits in (("ms", 6), ("µs", 3)):
            if nanos >= NANOS_PER[unit]:
                return _decimal(*divmod(nanos, NANOS_PER[unit]), digits) + unit
        return f"{nanos}ns"
    hours, rest = divmod(nanos, NANOS_PER["h"])
    minutes, rest = divmod(rest, NANOS_PER["m"])
    seconds = _decimal(*divmod(rest, NANOS_PER["s"]), 9) + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds
