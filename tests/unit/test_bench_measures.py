"""The benchmarks' own arithmetic: health-log timestamps, the A/B order and its summary."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench import app_runs, images, latency_ab


def test_health_log_timestamps_keep_their_nanoseconds_and_zone() -> None:
    utc = app_runs.epoch_ns("2026-11-30T07:23:44.123456789Z")
    assert utc == 1_796_023_424 * 10**9 + 123_456_789  # date -ud @1796023424: 2026-11-30 07:23:44
    assert app_runs.epoch_ns("2026-11-30T08:23:44.123456789+01:00") == utc
    assert app_runs.epoch_ns("2026-11-30T07:23:44Z") == utc - 123_456_789
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp"):
        app_runs.epoch_ns("30 Nov 2026")


@pytest.mark.parametrize("rounds", [1, 2, 5, 6])
def test_ab_order_runs_each_image_rounds_times_and_neither_always_first(rounds: int) -> None:
    order = latency_ab.order(rounds)
    assert Counter(order) == {0: rounds, 1: rounds}
    firsts = [order[2 * r] for r in range(rounds)]
    assert firsts.count(0) - firsts.count(1) in (0, 1)  # A leads in odd rounds only
    assert all(order[2 * r] != order[2 * r + 1] for r in range(rounds))


def test_ab_summary_is_the_median_and_range_of_what_was_measured() -> None:
    rows = [
        {"start_to_ready_s": 1.0, "idle_memory": {"rss_mib": 77.0}, "latency": {"p50_ms": 3.0}},
        {"start_to_ready_s": 3.0, "idle_memory": {"rss_mib": 79.0}, "latency": {"p50_ms": 2.0}},
        {"start_to_ready_s": None},  # a round that never got ready measured nothing else
    ]
    summary = latency_ab.summary(rows)
    assert summary["ready s"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert summary["idle RSS MiB"] == {"median": 78.0, "min": 77.0, "max": 79.0}
    assert summary["p50 ms"] == {"median": 2.5, "min": 2.0, "max": 3.0}
    assert summary["first request ms"] is None


def test_a_revision_measured_app_by_app_keeps_every_app(tmp_path) -> None:
    results = tmp_path / "images-abc1234.json"
    assert images.with_earlier_rows(results, [{"app": "backend", "size_mb": 2}]) == [{"app": "backend", "size_mb": 2}]
    results.write_text(json.dumps({"apps": [{"app": "backend", "size_mb": 1}, {"app": "frontend", "size_mb": 9}]}))
    assert images.with_earlier_rows(results, [{"app": "backend", "size_mb": 2}]) == [
        {"app": "backend", "size_mb": 2},  # measured again: this run's row
        {"app": "frontend", "size_mb": 9},  # not measured this time: the earlier run's
    ]
