"""Local Docker container rules (pulumi-docker 5.2 property names)."""

from __future__ import annotations

from typing import Any

import pytest
from dockyard_policies import docker

from . import fixtures as fx

C = docker.CONTAINER
ALL_RULES = [
    docker.user_violations,
    docker.read_only_root_violations,
    docker.capability_violations,
    docker.no_new_privileges_violations,
    docker.memory_violations,
    docker.health_check_violations,
    docker.host_access_violations,
]


def _opt_out(rule: str, reason: str) -> dict[str, Any]:
    return {"label": f"opt-out.dockyard.dev/{rule}", "value": reason}


def test_compliant_container_passes_every_rule() -> None:
    props = fx.docker_container()
    for rule in ALL_RULES:
        assert rule(C, props) == [], rule.__name__
    assert docker.port_violations(C, props, require_loopback=True) == []


def test_other_resource_types_are_ignored() -> None:
    for rule in ALL_RULES:
        assert rule("docker:index/network:Network", {}) == []


@pytest.mark.parametrize(
    "user,expected",
    [
        (
            None,
            'container "backend": user must be set to a non-root UID (e.g. 1000:1000)',
        ),
        (
            "",
            'container "backend": user must be set to a non-root UID (e.g. 1000:1000)',
        ),
        ("0", 'container "backend": user 0 is root; use a non-root UID'),
        ("root", 'container "backend": user root is root; use a non-root UID'),
        ("0:1000", 'container "backend": user 0:1000 is root; use a non-root UID'),
    ],
)
def test_user_must_be_non_root(user: str | None, expected: str) -> None:
    assert docker.user_violations(C, fx.docker_container(user=user)) == [expected]


def test_upstream_uid_999_is_non_root() -> None:
    assert docker.user_violations(C, fx.docker_container("postgres", user="999:999")) == []


def test_read_only_root_and_named_opt_out() -> None:
    props = fx.docker_container(readOnly=False)
    assert docker.read_only_root_violations(C, props) == [
        'container "backend": readOnly must be true (or label opt-out.dockyard.dev/read-only-root with a reason)'
    ]
    props["labels"].append(_opt_out("read-only-root", ""))
    assert docker.read_only_root_violations(C, props), "an empty reason is no opt-out"
    props["labels"][-1]["value"] = "dev hot reload writes .pyc files"
    assert docker.read_only_root_violations(C, props) == []


def test_capabilities_drop_all() -> None:
    props = fx.docker_container(capabilities={"drops": ["NET_RAW"]})
    assert docker.capability_violations(C, props) == ['container "backend": capabilities.drops must include ALL']
    assert docker.capability_violations(C, fx.docker_container(capabilities=None)) == [
        'container "backend": capabilities.drops must include ALL'
    ]


def test_capability_adds_need_opt_out_label() -> None:
    props = fx.docker_container(capabilities={"drops": ["ALL"], "adds": ["CHOWN", "SETUID"]})
    assert docker.capability_violations(C, props) == [
        'container "backend": capabilities.adds CHOWN, SETUID needs label opt-out.dockyard.dev/capabilities with a reason'
    ]
    props["labels"].append(_opt_out("capabilities", "postgres entrypoint chowns PGDATA"))
    assert docker.capability_violations(C, props) == []


@pytest.mark.parametrize("opt", ["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"])
def test_no_new_privileges_spellings(opt: str) -> None:
    assert docker.no_new_privileges_violations(C, fx.docker_container(securityOpts=[opt])) == []


@pytest.mark.parametrize("opts", [None, [], ["no-new-privileges:false"], ["seccomp=unconfined"]])
def test_no_new_privileges_missing(opts: list[str] | None) -> None:
    assert docker.no_new_privileges_violations(C, fx.docker_container(securityOpts=opts)) == [
        'container "backend": securityOpts must include no-new-privileges:true'
    ]


@pytest.mark.parametrize("memory", [None, 0, True])
def test_memory_limit_required(memory: Any) -> None:
    assert docker.memory_violations(C, fx.docker_container(memory=memory)) == [
        'container "backend": memory (MB) must be set to a positive limit'
    ]


def test_health_check_required_unless_one_shot() -> None:
    props = fx.docker_container("migrate", healthcheck=None)
    expected = [
        'container "migrate": healthcheck.tests must be set (or label dockyard.dev/one-shot=true for a run-to-completion container)'
    ]
    assert docker.health_check_violations(C, props) == expected
    props["labels"].append({"label": "dockyard.dev/one-shot", "value": "false"})
    assert docker.health_check_violations(C, props) == expected
    props["labels"][-1]["value"] = "true"
    assert docker.health_check_violations(C, props) == []


def test_health_check_none_is_a_violation() -> None:
    props = fx.docker_container(healthcheck={"tests": ["NONE"]})
    assert docker.health_check_violations(C, props) == ['container "backend": healthcheck must not be NONE']


@pytest.mark.parametrize("ip", [None, "0.0.0.0", "192.0.2.10", "::"])
def test_ports_must_bind_loopback(ip: str | None) -> None:
    props = fx.docker_container(ports=[{"internal": 3000, "external": 3000, "ip": ip}])
    assert docker.port_violations(C, props, require_loopback=True) == [
        f'container "backend": port 3000 is published on {ip or "0.0.0.0 (default)"}; bind it to 127.0.0.1'
    ]
    assert docker.port_violations(C, props, require_loopback=False) == []


def test_ipv6_loopback_passes() -> None:
    props = fx.docker_container(ports=[{"internal": 3000, "ip": "::1"}])
    assert docker.port_violations(C, props, require_loopback=True) == []


def test_privileged_and_host_namespaces() -> None:
    assert docker.host_access_violations(C, fx.docker_container(privileged=True)) == [
        'container "backend": privileged must not be true'
    ]
    assert docker.host_access_violations(C, fx.docker_container(networkMode="host")) == [
        'container "backend": networkMode host shares the host network namespace'
    ]
    assert docker.host_access_violations(C, fx.docker_container(pidMode="host")) == [
        'container "backend": pidMode host shares the host PID namespace'
    ]
    assert docker.host_access_violations(C, fx.docker_container(networkMode="bridge")) == []
