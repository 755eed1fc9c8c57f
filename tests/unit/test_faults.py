"""Faults a user meets (issue 36) that the unit tier can make fail for real: dependency chains
as deep as a catalog allows, the driver's recovery from an interrupted `up` (a killed CLI's lock,
pending creates), `make urls` after `make down`, and the program's hook that takes away what an
interrupted `up` left on the engine. The engine and daemon faults themselves: tests/real/test_faults.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
import yaml

from components.config.catalog_file import CatalogError, load_catalog
from components.core.labels import STACK_LABEL
from components.plan.resolve import resolve
from components.plan.validate import validate
from components.plan.view import secrets_in_use
from components.targets.docker import leftovers
from testing.harness import PROJECT_DIR, run_program
from tests.unit.test_makefile import load_driver

DEPTH = 1_500  # past Python's default recursion limit (1,000) by half
HEALTH = {"readiness": {"command": ["true"]}, "liveness": {"command": ["sh", "-c", "true"]}}


def chain_catalog(depth: int, cycle: bool = False) -> dict:
    """s0 talks to s1, s1 to s2, …: a dependency chain `depth` services deep (s0 public), each
    secret's template using the next secret: a template chain as deep."""
    services = {}
    for i in range(depth):
        spec = {"image": "redis:7.4.5", "port": 6379, "health": HEALTH, "resources": {"memory": "64Mi", "cpu": "100m"}}
        if i + 1 < depth:
            spec["talksTo"] = [f"s{i + 1}"]
        elif cycle:
            spec["talksTo"] = ["s0"]
        services[f"s{i}"] = spec
    services["s0"]["public"] = True
    secrets = {f"k{i}": {"template": f"{{secret:k{i + 1}}}x"} for i in range(depth - 1)}
    secrets[f"k{depth - 1}"] = {"generate": {"length": 16}}
    services["s0"]["env"] = {"KEY": "{secret:k0}"}
    return {"secrets": secrets, "services": services}


def write_catalog(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_a_dependency_chain_deeper_than_the_recursion_limit_evaluates(tmp_path):
    assert DEPTH > sys.getrecursionlimit()
    catalog = load_catalog(write_catalog(tmp_path, chain_catalog(DEPTH)))
    stack = resolve(catalog, validate("dev", {}, set(), PROJECT_DIR, catalog))
    assert list(stack.services)[0] == f"s{DEPTH - 1}", "start order: the end of the chain first"
    assert len(stack.services) == DEPTH
    # the template chain: dependencies first, every secret once
    assert secrets_in_use(catalog, frozenset(stack.services)) == tuple(f"k{i}" for i in reversed(range(DEPTH)))


def test_the_program_registers_a_deep_chain_with_start_order_intact(tmp_path):
    depth = 400  # the program under mocks: slower per service than the plan alone
    program = run_program("dev", base_config=False, catalog=write_catalog(tmp_path, chain_catalog(depth)))
    containers = [r for r in program.resources if r.type == "docker:index/container:Container"]
    assert len(containers) == depth


def test_a_cycle_is_refused_naming_it(tmp_path):
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, chain_catalog(300, cycle=True)))
    text = str(refused.value)
    assert "must not form a cycle" in text and "s1 -> s0" in text, text[-800:]


# --- an interrupted `up`: the driver ------------------------------------------------------------


def lock(backend: Path, stack: str, pid: int, host: str) -> Path:
    path = backend / ".pulumi" / "locks" / "organization" / "dockyard" / stack / "lock.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "hostname": host, "username": "u", "timestamp": "t"}))
    return path


def test_a_killed_clis_lock_is_stale_and_a_live_ones_or_another_machines_is_not(tmp_path, monkeypatch):
    driver = load_driver()
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    gone = _dead_pid()
    stale = lock(tmp_path, "dev", gone, socket.gethostname())
    assert driver.stale_locks("dev") == [stale]
    lock(tmp_path, "dev", os.getpid(), socket.gethostname())  # replaces it: this process is alive
    assert driver.stale_locks("dev") == []
    lock(tmp_path, "dev", gone, "another-machine")
    assert driver.stale_locks("dev") == []
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    assert driver.stale_locks("dev") == []


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


class FakePulumi:
    """Records the commands the driver runs; answers `stack export` and `stack output`."""

    def __init__(self, deployment: dict, outputs: dict | None = None):
        self.stack, self.ran = "dev", []
        self.deployment, self.outputs = deployment, outputs or {}

    def run(self, *args: str, capture: bool = False) -> str:
        if args[:2] == ("stack", "export"):
            return json.dumps({"deployment": self.deployment})
        if args[:2] == ("stack", "output"):
            return json.dumps(self.outputs)
        self.ran.append(args)
        return ""


def test_pending_creates_are_cleared_with_the_clis_own_flag_before_up(monkeypatch):
    driver = load_driver()
    monkeypatch.setattr(driver, "machine_config", lambda pulumi: [])
    monkeypatch.setenv("PULUMI_BACKEND_URL", "https://api.pulumi.com")
    urn = "urn:pulumi:dev::dockyard::dockyard:index:DockerEnvironment$docker:index/container:Container::local-redis"
    fake = FakePulumi({"pending_operations": [{"type": "creating", "resource": {"urn": urn}}]})
    driver.recover_interrupted(fake)
    assert fake.ran == [("refresh", "--yes", "--skip-preview", "--clear-pending-creates")]
    clean = FakePulumi({"resources": []})
    driver.recover_interrupted(clean)
    assert clean.ran == [], "nothing to recover: no extra command"


def test_urls_after_down_are_not_printed(capsys):
    driver = load_driver()
    outputs = {"urls": {"backend": "http://127.0.0.1:8000"}, "network": "dockyard-dev-net"}
    driver.outputs(FakePulumi({"resources": [{"type": "docker:index/volume:Volume"}]}, outputs), None)
    printed = json.loads(capsys.readouterr().out)
    assert "urls" not in printed and printed["network"] == "dockyard-dev-net"
    running = {"resources": [{"type": driver.CONTAINER_TYPE}]}
    driver.outputs(FakePulumi(running, outputs), None)
    assert json.loads(capsys.readouterr().out)["urls"] == outputs["urls"]


# --- an interrupted `up`: the program's hook ------------------------------------------------------


class LeftoverEngine:
    def __init__(self):
        self.asked = []

    def remove_leftover(self, kind, name, stack, grace_seconds):
        self.asked.append((kind, name, stack, grace_seconds))
        return True


def hook_args(type_: str, name: str | None) -> pulumi.ResourceHookArgs:
    return pulumi.ResourceHookArgs(urn="urn", id="", name="n", type=type_, new_inputs={"name": name} if name else {})


def test_the_hook_removes_a_leftover_container_or_network_of_this_stack_only_before_a_create():
    engine = LeftoverEngine()
    remove = leftovers.remover(engine, "dev", 30)
    remove(hook_args(leftovers.CONTAINER_TYPE, "dockyard-dev-postgres"))
    remove(hook_args(leftovers.NETWORK_TYPE, "dockyard-dev-net"))
    remove(hook_args("docker:index/volume:Volume", "dockyard-dev-postgres-data"))  # volumes: never
    remove(hook_args(leftovers.CONTAINER_TYPE, None))
    assert engine.asked == [
        ("container", "dockyard-dev-postgres", "dev", 30),
        ("network", "dockyard-dev-net", "dev", 30),
    ]


def test_the_containers_and_network_carry_the_label_the_hook_checks():
    program = run_program("dev")
    labelled = [r for r in program.resources if r.type in leftovers.KINDS]
    assert {r.type for r in labelled} == set(leftovers.KINDS)
    for resource in labelled:
        assert {label["label"]: label["value"] for label in resource.inputs["labels"]}[STACK_LABEL] == "dev"
