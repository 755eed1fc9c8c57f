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
from components.config.settings import SettingsError
from components.core import docker_names
from components.core.labels import STACK_LABEL
from components.plan.container import container_plan
from components.plan.resolve import resolve
from components.plan.validate import validate
from components.plan.view import secrets_in_use
from components.targets.compose.render import compose_document
from components.targets.docker import announcements as announcements_module
from components.targets.docker import leftovers
from components.targets.kubernetes.network import network_policy_manifest
from components.targets.kubernetes.pod import selector_labels
from testing.harness import CATALOG, PROJECT_DIR, merge, run_program, stack_config
from tests.unit.catalog_files import RAW, edited, upstream_service
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


def test_the_renderers_walk_a_deep_chain_edge_by_edge(tmp_path):
    # compose's depends_on and Kubernetes' NetworkPolicies: each service's edges, no walk down the chain
    catalog = load_catalog(write_catalog(tmp_path, chain_catalog(DEPTH)))
    stack = resolve(catalog, validate("dev", {}, set(), PROJECT_DIR, catalog))
    document = compose_document(stack, PROJECT_DIR, "deep", secrets={f"k{i}": "x" for i in range(DEPTH)})
    middle = f"s{DEPTH // 2}"
    assert list(document["services"][middle]["depends_on"]) == [f"s{DEPTH // 2 + 1}"]
    policy = network_policy_manifest(stack.services[middle], stack.settings)
    assert [rule["from"][0]["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"]] == [
        selector_labels(f"s{DEPTH // 2 - 1}")
    ]
    assert [rule["to"][0]["podSelector"]["matchLabels"] for rule in policy["spec"]["egress"]] == [
        selector_labels(f"s{DEPTH // 2 + 1}")
    ]


def test_a_secret_template_cycle_is_refused_naming_it(tmp_path):
    raw = chain_catalog(300)
    raw["secrets"]["k299"] = {"template": "{secret:k0}x"}  # the last secret uses the first
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, raw))
    problems = [problem for problem in refused.value.problems if "must not use itself" in problem.allowed]
    assert len(problems) == 1, refused.value
    assert "k0 -> k1" in problems[0].allowed and "k299 -> k0" in problems[0].allowed, problems[0].allowed


def test_a_host_reached_at_the_end_of_a_template_chain_must_be_in_talks_to(tmp_path):
    raw = chain_catalog(300)
    raw["secrets"]["k299"] = {"template": "redis://{host:s2}:{port:s2}"}  # s0 talks only to s1
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, raw))
    assert [(problem.key, problem.allowed) for problem in refused.value.problems] == [
        (
            "services.s0.env.KEY",
            "reaches s2, which is not in talksTo: add it there (NetworkPolicies allow only talksTo)",
        )
    ]


# --- inputs a target would refuse, round or truncate: refused before anything exists ------------


def both_targets_run(name: str) -> bool:
    """`name` runs on dev (Docker) and on staging (Kubernetes) as the stack files stand."""
    return all(
        validate(stack, stack_config(stack), set(), PROJECT_DIR).service(name).enabled for stack in ("dev", "staging")
    )


RUNS_EVERYWHERE = next(
    name for name, body in RAW["services"].items() if "monitoring" not in body and both_targets_run(name)
)


def settings_refusal(stack: str, service: dict, catalog=None) -> SettingsError:
    with pytest.raises(SettingsError) as refused:
        config = merge(stack_config(stack), {"services": {RUNS_EVERYWHERE: service}})
        validate(stack, config, set(), PROJECT_DIR, catalog)
    return refused.value


def test_a_cpu_below_what_docker_runs_is_refused_on_the_docker_target_only():
    # 5m is a CFS quota of 0.5 ms per 100 ms: the kernel refuses it and the container never starts.
    refused = settings_refusal("dev", {"cpu": "5m"})
    assert [(problem.key, problem.value) for problem in refused.problems] == [(f"services.{RUNS_EVERYWHERE}.cpu", "5m")]
    assert "is below 10m (0.01), the smallest CPU limit Docker runs" in str(refused)
    assert f"set at least 10m here (services.{RUNS_EVERYWHERE}.cpu)" in str(refused)
    validate("dev", merge(stack_config("dev"), {"services": {RUNS_EVERYWHERE: {"cpu": "10m"}}}), set(), PROJECT_DIR)
    # Kubernetes runs 5m as written (its unit is 1m)
    staging = merge(stack_config("staging"), {"services": {RUNS_EVERYWHERE: {"cpu": "5m"}}})
    assert validate("staging", staging, set(), PROJECT_DIR).service(RUNS_EVERYWHERE).cpu == "5m"


def test_a_catalog_cpu_below_what_docker_runs_is_refused_naming_the_catalog_field(tmp_path):
    raw = edited(lambda raw: raw["services"][RUNS_EVERYWHERE]["resources"].update(cpu="1m"))
    catalog = load_catalog(write_catalog(tmp_path, raw))
    refused = settings_refusal("dev", {}, catalog)
    assert f"in catalog.yaml (services.{RUNS_EVERYWHERE}.resources.cpu), or here for this stack" in str(refused)


def test_memory_docker_would_cut_to_whole_mib_is_refused_on_the_docker_target_only():
    # The provider's `memory` is in MiB: 100M (95.37Mi) would run as 95Mi on Docker, 100M on Kubernetes.
    refused = settings_refusal("dev", {"memory": "100M"})
    assert [problem.key for problem in refused.problems] == [f"services.{RUNS_EVERYWHERE}.memory"]
    assert "is 95.37Mi: Docker takes memory limits in whole Mi and would run 95Mi where Kubernetes runs 100M" in str(
        refused
    )
    assert "write a whole number of Mi (95Mi or 96Mi, or Gi)" in str(refused)
    for whole in ("96Mi", "1Gi", "98304Ki"):
        config = merge(stack_config("dev"), {"services": {RUNS_EVERYWHERE: {"memory": whole}}})
        validate("dev", config, set(), PROJECT_DIR)
    staging = merge(stack_config("staging"), {"services": {RUNS_EVERYWHERE: {"memory": "100M"}}})
    assert validate("staging", staging, set(), PROJECT_DIR).service(RUNS_EVERYWHERE).memory == "100M"


@pytest.mark.parametrize("cpu", [0.0001, "0.0001", "0.5m"])
def test_a_catalog_cpu_finer_than_a_millicore_is_refused_not_rounded(tmp_path, cpu):
    raw = edited(lambda raw: raw["services"][RUNS_EVERYWHERE]["resources"].update(cpu=cpu))
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, raw))
    (problem,) = refused.value.problems
    assert problem.key == f"services.{RUNS_EVERYWHERE}.resources.cpu"
    assert "finer than 1m (0.001), Kubernetes' smallest CPU unit: it would run it as 1m" in problem.allowed


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("interval", "0s", "Docker reads 0 as its own default"),
        ("timeout", "0ms", "Docker reads 0 as its own default"),
        ("startInterval", "500us", "Docker refuses a shorter health-check duration"),
        ("startPeriod", "999999ns", "Docker refuses a shorter health-check duration"),
    ],
)
def test_a_health_duration_docker_refuses_or_replaces_is_refused(tmp_path, field, value, why):
    name = next(name for name, body in RAW["services"].items() if "health" in body)
    raw = edited(lambda raw: raw["services"][name]["health"].update({field: value}))
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, raw))
    (problem,) = refused.value.problems
    assert (problem.key, problem.value) == (f"services.{name}.health.{field}", value)
    assert problem.allowed.startswith("must be at least 1ms") and why in problem.allowed


def test_a_scrape_interval_prometheus_would_cut_to_whole_milliseconds_is_refused(tmp_path):
    monitor = next(name for name, body in RAW["services"].items() if "monitoring" in body)
    raw = edited(lambda raw: raw["services"][monitor]["monitoring"].update(scrapeInterval="1500500us"))
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_catalog(tmp_path, raw))
    (problem,) = refused.value.problems
    assert problem.key == f"services.{monitor}.monitoring.scrapeInterval"
    assert problem.allowed == "must be whole milliseconds (Prometheus would run 1500ms), e.g. 15s or 1500ms"
    raw = edited(lambda raw: raw["services"][monitor]["monitoring"].update(scrapeInterval="1500ms"))
    assert load_catalog(write_catalog(tmp_path, raw)).by_name()[monitor].monitoring.scrape_interval == "1500ms"


def test_a_zero_start_period_is_no_grace_and_is_taken(tmp_path):
    name = next(name for name, body in RAW["services"].items() if "health" in body)
    raw = edited(lambda raw: raw["services"][name]["health"].update(startPeriod="0s"))
    assert load_catalog(write_catalog(tmp_path, raw)).by_name()[name].health.start_period == "0s"


# --- names the program makes never meet names people pick ------------------------------------------

STACKS = ["dev", "dev-x", "dev.x", "dev_x", "dev-x-a", "dev.x-a", "x", "a-b.c", "Dev", "dev-"]
SERVICES = ["a", "x-a", "a-data", "a-config", "config", "data", "prometheus", "prometheus-config", "x", "b-x-a"]


def test_no_two_stacks_or_services_share_a_container_or_a_volume_name():
    # Every pair the old names let meet (stack dev + service x-a, stack dev-x + service a), and
    # the program's own config writer next to a service named <service>-config.
    containers: dict[str, tuple] = {}
    volumes: dict[str, tuple] = {}
    for stack in STACKS:
        for service in SERVICES:
            for origin, name in [
                ((stack, service, "container"), docker_names.container_name(stack, service)),
                ((stack, service, "config writer"), docker_names.config_writer_name(stack, service)),
            ]:
                assert containers.setdefault(name, origin) == origin, (name, containers[name], origin)
            for origin, name in [
                ((stack, service, "data"), docker_names.data_volume_name(stack, service)),
                ((stack, service, "config"), docker_names.config_volume_name(stack, service)),
            ]:
                assert volumes.setdefault(name, origin) == origin, (name, volumes[name], origin)
    networks = {docker_names.network_name(stack) for stack in STACKS}
    assert len(networks) == len(STACKS)
    assert docker_names.container_name("dev", "x-a") != docker_names.container_name("dev-x", "a")


def test_stacks_without_a_dash_keep_their_names():
    # Renaming a data volume would start a stack on an empty one: dev, staging and prod keep theirs.
    assert docker_names.container_name("dev", "postgres") == "dockyard-dev-postgres"
    assert docker_names.data_volume_name("dev", "postgres") == "dockyard-dev-postgres-data"
    assert docker_names.config_volume_name("dev", "prometheus") == "dockyard-dev-prometheus-config"
    assert docker_names.network_name("dev") == "dockyard-dev-net"


def test_a_stack_with_a_dash_in_its_name_runs_under_names_no_other_stack_has():
    run = run_program("dev-x", config_stack="dev")
    names = {r.inputs["name"] for r in run.resources if r.type in leftovers.KINDS}
    stateful = [spec.name for spec in CATALOG.services if spec.state and both_targets_run(spec.name)]
    assert "dockyard-dev-x-net" in names and f"dockyard-dev-x.{RUNS_EVERYWHERE}" in names
    volumes = {r.inputs["name"] for r in run.of_type("docker:index/volume:Volume")}
    assert {f"dockyard-dev-x.{name}-data" for name in stateful} <= volumes


def test_a_service_named_like_the_config_writer_runs_beside_it(tmp_path):
    monitor = next(name for name, body in RAW["services"].items() if "monitoring" in body)
    raw = edited(lambda raw: raw["services"].update({f"{monitor}-config": upstream_service()}))
    run = run_program("dev", {"dev": {"monitoring": True}}, catalog=write_catalog(tmp_path, raw))
    names = [r.inputs["name"] for r in run.of_type(leftovers.CONTAINER_TYPE)]
    assert f"dockyard-dev-{monitor}-config" in names and f"dockyard-dev-{monitor}_config" in names
    assert len(names) == len(set(names))


# --- one namespace per stack on a cluster -------------------------------------------------------


def kubernetes_settings(stack: str, kubernetes: dict, project_dir: Path = PROJECT_DIR, config_stack: str = "staging"):
    config = merge(stack_config(config_stack), {"kubernetes": kubernetes})
    return validate(stack, config, set(), project_dir, CATALOG).kubernetes


def test_each_stack_has_a_namespace_of_its_own_by_default():
    assert kubernetes_settings("staging", {"namespace": None}).namespace == "dockyard-staging"
    assert kubernetes_settings("dev", {"enabled": True}, config_stack="dev").namespace == "dockyard-dev"
    assert kubernetes_settings("qa", {"namespace": None}).namespace == "dockyard-qa"
    # the checked-in stacks: dev's Minikube namespace is no longer prod's
    assert validate("dev", stack_config("dev"), set(), PROJECT_DIR).kubernetes.namespace == "dockyard-dev"


def test_a_namespace_another_stack_deploys_to_on_the_same_context_is_refused_naming_it():
    # Pulumi.prod.yaml deploys to namespace dockyard on context prod
    with pytest.raises(SettingsError) as refused:
        kubernetes_settings("staging", {"context": "prod", "namespace": "dockyard"})
    (problem,) = refused.value.problems
    assert (problem.key, problem.value) == ("kubernetes.namespace", "dockyard")
    assert problem.allowed.startswith("is also where stack prod deploys on prod (Pulumi.prod.yaml)")
    # dev's Minikube path, pointed at prod's cluster and namespace
    with pytest.raises(SettingsError, match="is also where stack prod deploys on prod"):
        kubernetes_settings("dev", {"enabled": True, "context": "prod", "namespace": "dockyard"}, config_stack="dev")
    # another context, or the stack's own default namespace: no one else's
    assert kubernetes_settings("staging", {"context": "other", "namespace": "dockyard"}).namespace == "dockyard"
    own = kubernetes_settings("dev", {"enabled": True, "context": "prod"}, config_stack="dev")
    assert own.namespace == "dockyard-dev"
    # rendered manifests go to a directory, not to a namespace
    rendered = {"context": "prod", "namespace": "dockyard", "renderYamlToDirectory": "out"}
    assert kubernetes_settings("staging", rendered).namespace == "dockyard"


def test_two_stack_names_with_one_default_namespace_are_refused(tmp_path):
    # qa.x and qa_x both default to dockyard-qa-x (a namespace is a DNS label)
    config = merge(stack_config("staging"), {"kind": "staging", "kubernetes": {"namespace": None}})
    for stack in ("qa.x", "qa_x"):
        stack_file = {"config": {f"dockyard:{key}": value for key, value in config.items()}}
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(stack_file))
    with pytest.raises(SettingsError, match="dockyard-qa-x.*is also where stack qa_x deploys on staging"):
        validate("qa.x", config, set(), tmp_path, CATALOG)


# --- a no-change `up` says nothing about waiting -----------------------------------------------


def plans() -> dict:
    stack = resolve(CATALOG, validate("dev", stack_config("dev"), set(), PROJECT_DIR, CATALOG))
    return {name: container_plan(service, stack.settings, PROJECT_DIR) for name, service in stack.services.items()}


def test_a_wait_is_announced_when_its_container_is_created_not_on_every_up(monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, resource=None: said.append(message))
    announcements = announcements_module.WaitAnnouncements(on_create=True)
    for service, plan in plans().items():
        announcements.expect(service, plan)
        announcements.registered(plan, None)
    assert said == [], "registering the containers (what every `up` does) says nothing"
    # the before_create hook: the engine runs it only for a container it creates or replaces
    name = docker_names.container_name("dev", RUNS_EVERYWHERE)
    announcements.announce(pulumi.ResourceHookArgs(urn="u", id="", name="n", type="t", new_inputs={"name": name}))
    assert said == [announcements_module.wait_message(RUNS_EVERYWHERE, plans()[RUNS_EVERYWHERE])]
    announcements.announce(pulumi.ResourceHookArgs(urn="u", id="", name="n", type="t", new_inputs={"name": "other"}))
    assert len(said) == 1


def test_without_hooks_each_wait_is_announced_as_it_is_registered(monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, resource=None: said.append(message))
    announcements = announcements_module.WaitAnnouncements(on_create=False)
    assert announcements.hooks(None) is None
    for service, plan in plans().items():
        announcements.expect(service, plan)
        announcements.registered(plan, None)
    assert f"{RUNS_EVERYWHERE}: waiting until its health check passes" in " ".join(said)


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
