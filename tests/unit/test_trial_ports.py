"""Trial stacks' host ports: free now, and out of reach of anything that binds port 0 before Docker
binds them (engine/trial_stack.free_port)."""

from __future__ import annotations

import socket

from testing import trial_stack
from testing.trial_stack import TRIAL_PORTS_FLOOR, ephemeral_ports, free_port


def test_trial_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports)
    assert all(TRIAL_PORTS_FLOOR <= port < ephemeral_ports().start for port in ports)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", ports[0]))  # nothing listens there


def test_a_port_in_use_is_never_handed_out(monkeypatch) -> None:
    # Three candidates, two of them taken: the third is the only answer.
    floor = 29990
    monkeypatch.setattr(trial_stack, "TRIAL_PORTS_FLOOR", floor)
    monkeypatch.setattr(trial_stack, "ephemeral_ports", lambda: range(floor + 3, 61000))
    monkeypatch.setattr(trial_stack, "_handed_out", set())  # whatever the test before was given
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", floor))
        second.bind(("127.0.0.1", floor + 1))
        assert free_port() == floor + 2
