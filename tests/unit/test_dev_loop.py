"""The dev loop: `dev.debug` (each built service the catalog gives a `debug` block runs its dev
stage under that debugger, its port on 127.0.0.1) and `dev.monitoring` (the catalog's monitoring
service runs, with a scrape config generated from every enabled service's `metrics`); on
Kubernetes the same `metrics` become prometheus.io/* pod annotations.

Expectations come from the catalog (which services declare debug, metrics, monitoring), so a
service added there is checked by the same tests; tests/real/test_dev_loop.py runs it for real.
"""

from __future__ import annotations

import hashlib
import json
import posixpath

import pytest
import yaml

from components.config.catalog import Catalog, Debug, Metrics, Monitoring
from components.config.catalog_file import CatalogError, catalog_path, load_catalog
from components.config.catalog_rules import catalog_problems
from components.config.settings import SettingsError
from components.core.durations import duration_nanos
from components.plan.monitoring import prometheus_duration, scrape_config, scrape_targets
from components.plan.validate import validate
from testing.harness import CATALOG, PROJECT_DIR, merge, outside_inputs, resolved_stack, run_program, stack_config

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
BUILD = "docker-build:index:Image"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
SPECS = CATALOG.by_name()
DEBUGGED = [spec for spec in CATALOG.services if spec.debug is not None]
NOT_DEBUGGABLE = [spec.name for spec in CATALOG.services if spec.debug is None]
MONITOR = next(spec for spec in CATALOG.services if spec.monitoring is not None)
WITH_METRICS = [spec for spec in CATALOG.services if spec.metrics is not None]
DEBUG_ON = {"dev": {"debug": True}}
MONITORING_ON = {"dev": {"monitoring": True}}


def problems(stack: str, overrides: dict, catalog: Catalog = CATALOG) -> list:
    raw = merge(stack_config(stack), overrides)
    with pytest.raises(SettingsError) as caught:
        validate(stack, raw, set(outside_inputs(stack).get("secrets", {})), PROJECT_DIR, catalog)
    return caught.value.problems


def only(found: list, key: str):
    assert [p.key for p in found] == [key], [str(p) for p in found]
    return found[0]


def labels(resource) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs["labels"]}


def containers(run) -> dict:
    """service -> the container that runs it; `<service>-config` -> the one that writes its config."""
    return {
        labels(r)["dockyard.dev/service"] + ("-config" if "dockyard.dev/config-writer" in labels(r) else ""): r
        for r in run.of_type(CONTAINER)
    }


def with_services(**update) -> Catalog:
    """The project's catalog with fields replaced on every service named in `update`."""
    specs = tuple(
        spec.model_copy(update=update[spec.name]) if spec.name in update else spec for spec in CATALOG.services
    )
    return Catalog(services=specs, secrets=CATALOG.secrets, source=CATALOG.source)


# --- settings: refused where a debugger or the dev Prometheus cannot be ---------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
@pytest.mark.parametrize(
    ("key", "overrides"),
    [
        ("dev.debug", {"dev": {"debug": True}}),
        ("dev.monitoring", {"dev": {"monitoring": True}}),
        (f"services.{DEBUGGED[0].name}.debug", {"services": {DEBUGGED[0].name: {"debug": True}}}),
        (f"services.{DEBUGGED[0].name}.debugHostPort", {"services": {DEBUGGED[0].name: {"debugHostPort": 15678}}}),
    ],
)
def test_the_dev_loop_is_refused_outside_dev_naming_the_key(stack, key, overrides):
    problem = only(problems(stack, overrides), key)
    assert "dev" in problem.allowed and stack in problem.allowed
    assert f"dockyard:{key}" in str(SettingsError(stack, [problem]))


def test_the_dev_prometheus_is_refused_with_minikube_and_says_why():
    problem = only(problems("dev", {"dev": {"monitoring": True}, "kubernetes": {"enabled": True}}), "dev.monitoring")
    assert "prometheus.io" in problem.allowed and "kubernetes.enabled" in problem.allowed


def test_debuggers_are_refused_with_minikube_and_say_why():
    problem = only(problems("dev", {"dev": {"debug": True}, "kubernetes": {"enabled": True}}), "dev.debug")
    assert "runtime images" in problem.allowed and "kubernetes.enabled" in problem.allowed
    name = DEBUGGED[0].name
    one = {"services": {name: {"debug": True}}, "kubernetes": {"enabled": True}}
    only(problems("dev", one), f"services.{name}.debug")


@pytest.mark.parametrize("name", NOT_DEBUGGABLE)
def test_a_debugger_the_catalog_does_not_declare_is_refused_naming_those_it_does(name):
    problem = only(problems("dev", {"services": {name: {"debug": True}}}), f"services.{name}.debug")
    assert all(spec.name in problem.allowed for spec in DEBUGGED)


def test_dev_debug_and_monitoring_without_their_catalog_blocks_are_refused():
    bare = with_services(**{spec.name: {"debug": None, "monitoring": None} for spec in CATALOG.services})
    only(problems("dev", DEBUG_ON, bare), "dev.debug")
    only(problems("dev", MONITORING_ON, bare), "dev.monitoring")


def test_a_debug_host_port_with_no_debugger_is_refused():
    name = DEBUGGED[0].name
    only(problems("dev", {"services": {name: {"debugHostPort": 15678}}}), f"services.{name}.debugHostPort")


def test_debuggers_take_part_in_the_host_port_rules():
    first, *others = DEBUGGED
    published = next(spec for spec in CATALOG.services if spec.public and spec.monitoring is None)
    taken = {"services": {first.name: {"debugHostPort": published.port}}, **DEBUG_ON}
    problem = only(problems("dev", taken), f"services.{first.name}.debugHostPort")
    assert f"already published by {published.name}" in problem.allowed
    # The catalog's debug port as default: a service published there is refused too.
    clash = {"services": {published.name: {"hostPort": first.debug.port}}, **DEBUG_ON}
    found = problems("dev", clash)
    assert {p.key for p in found} <= {f"services.{published.name}.hostPort", f"services.{first.name}.debugHostPort"}
    assert found and "already published by" in found[0].allowed
    if others:
        shared = {"services": {spec.name: {"debugHostPort": 15678} for spec in DEBUGGED}, **DEBUG_ON}
        assert any(p.key.endswith(".debugHostPort") and "debugger" in p.allowed for p in problems("dev", shared))


def test_the_monitoring_service_follows_dev_monitoring_not_its_enabled_key():
    only(problems("dev", {"services": {MONITOR.name: {"enabled": True}}}), f"services.{MONITOR.name}.enabled")
    assert MONITOR.name not in resolved_stack("dev").services
    assert MONITOR.name in resolved_stack("dev", MONITORING_ON).services


# --- the catalog's own rules for the new fields ---------------------------------------------------


def test_the_catalog_refuses_what_a_debugger_metrics_or_monitoring_cannot_do():
    upstream = next(spec for spec in CATALOG.services if spec.image and spec.port and spec.monitoring is None)
    built = DEBUGGED[0]
    keys = {
        p.key
        for p in catalog_problems(
            with_services(
                **{
                    upstream.name: {"debug": Debug(port=5999, command=("x",)), "metrics": Metrics(port=None)},
                    built.name: {"debug": built.debug.model_copy(update={"port": built.port})},
                    MONITOR.name: {"monitoring": Monitoring(config_file="/prometheus.yml", scrape_interval="500ms")},
                }
            )
        )
    }
    assert {
        f"services.{upstream.name}.debug",
        f"services.{built.name}.debug.port",
        f"services.{MONITOR.name}.monitoring.configFile",
        f"services.{MONITOR.name}.monitoring.scrapeInterval",
    } <= keys
    no_port = next(spec for spec in CATALOG.services if spec.port is None)
    only(catalog_problems(with_services(**{no_port.name: {"metrics": Metrics()}})), f"services.{no_port.name}.metrics")
    second = next(spec for spec in CATALOG.services if spec.port and spec.monitoring is None and spec.long_running)
    found = catalog_problems(with_services(**{second.name: {"monitoring": Monitoring()}}))
    (twice,) = [p for p in found if "one monitoring service at most" in p.allowed]
    assert twice.key in {f"services.{second.name}.monitoring", f"services.{MONITOR.name}.monitoring"}


def test_the_config_directory_is_a_mount_that_must_not_collide(tmp_path):
    raw = yaml.safe_load(catalog_path(PROJECT_DIR).read_text())
    raw["services"][MONITOR.name]["monitoring"]["configFile"] = f"{MONITOR.state.path}/prometheus.yml"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(CatalogError, match="is already mounted by state.path"):
        load_catalog(path)


# --- dev.debug on Docker: the dev stage, the catalog's command, loopback ports --------------------


@pytest.fixture(scope="module")
def debugging():
    return run_program("dev", DEBUG_ON)


def test_debugged_services_run_the_catalog_debug_command_on_their_dev_stage(debugging):
    plans = containers(debugging)
    targets = {
        r.inputs["tags"][0].split("/")[-1].split(":")[0]: r.inputs.get("target") for r in debugging.of_type(BUILD)
    }
    for spec in DEBUGGED:
        sent = plans[spec.name].inputs
        assert sent["command"] == list(spec.debug.command), spec.name
        assert targets[spec.name] == spec.build.dev_target, spec.name
        ports = [(p["internal"], p["external"], p["ip"]) for p in sent["ports"]]
        assert (spec.debug.port, spec.debug.port, "127.0.0.1") in ports, ports
        opt_out = labels(plans[spec.name]).get("opt-out.dockyard.dev/read-only-root", "")
        assert sent["readOnly"] is False and "dev.debug" in opt_out
    for name, resource in plans.items():
        if name not in {spec.name for spec in DEBUGGED}:
            assert resource.inputs.get("command") == (list(SPECS[name].command) if SPECS[name].command else None)
            assert all(p["internal"] == SPECS[name].port for p in resource.inputs.get("ports", []))
    assert debugging.outputs["debug"] == {spec.name: f"127.0.0.1:{spec.debug.port}" for spec in DEBUGGED}


def test_one_service_may_leave_the_debugger_and_a_host_port_may_be_chosen():
    first, *others = DEBUGGED
    config = {"dev": {"debug": True}, "services": {first.name: {"debug": False}}}
    if others:
        config["services"][others[0].name] = {"debugHostPort": 15999}
    run = run_program("dev", config)
    plans = containers(run)
    assert plans[first.name].inputs.get("command") == (list(first.command) if first.command else None)
    assert first.name not in run.outputs.get("debug", {})
    targets = {r.inputs["tags"][0].split("/")[-1].split(":")[0]: r.inputs.get("target") for r in run.of_type(BUILD)}
    assert targets[first.name] == first.build.target
    if others:
        assert run.outputs["debug"][others[0].name] == "127.0.0.1:15999"
        ports = plans[others[0].name].inputs["ports"]
        assert {"internal": others[0].debug.port, "external": 15999, "ip": "127.0.0.1"} in ports


def test_without_dev_debug_there_is_no_debugger_anywhere():
    run = run_program("dev")
    assert "debug" not in run.outputs
    for name, resource in containers(run).items():
        assert all(p["internal"] == SPECS[name].port for p in resource.inputs.get("ports", [])), name
    assert {r.inputs.get("target") for r in run.of_type(BUILD)} == {spec.build.target for spec in DEBUGGED}


def test_vscode_attaches_where_the_catalog_listens_with_the_mounted_source_mapped():
    launch = json.loads((PROJECT_DIR / ".vscode" / "launch.json").read_text())
    by_port = {}
    for config in launch["configurations"]:
        port = config["connect"]["port"] if "connect" in config else config["port"]
        host = config["connect"]["host"] if "connect" in config else config["address"]
        assert host == "127.0.0.1" and config["request"] == "attach"
        by_port[port] = config
    assert set(by_port) == {spec.debug.port for spec in DEBUGGED}
    for spec in DEBUGGED:
        config = by_port[spec.debug.port]
        mappings = config.get("pathMappings") or [
            {"localRoot": config["localRoot"], "remoteRoot": config["remoteRoot"]}
        ]
        source = f"${{workspaceFolder}}/{spec.build.context}/{spec.build.source_dir}"
        mapped = [
            m["remoteRoot"] + source[len(m["localRoot"]) :] for m in mappings if source.startswith(m["localRoot"])
        ]
        assert mapped == [spec.build.source_mount], (spec.name, mappings)


# --- dev.monitoring: the catalog's Prometheus with a config generated from the catalog ------------


@pytest.fixture(scope="module")
def monitoring():
    return run_program("dev", MONITORING_ON)


def test_monitoring_is_off_by_default():
    run = run_program("dev")
    assert MONITOR.name not in containers(run)
    assert not [r for r in run.of_type(VOLUME) if r.inputs["name"].endswith(f"-{MONITOR.name}-config")]


def test_the_monitoring_service_reads_its_generated_config_from_a_volume_it_mounts_read_only(monitoring):
    plans = containers(monitoring)
    sent, writer = plans[MONITOR.name].inputs, plans[f"{MONITOR.name}-config"]
    directory = posixpath.dirname(MONITOR.monitoring.config_file)
    (mount,) = [v for v in sent["volumes"] if v.get("containerPath") == directory]
    assert mount["readOnly"] is True
    assert sent["readOnly"] is True and sent["user"] == MONITOR.user and "uploads" not in sent
    # A container created and never started writes it there (an upload needs a writable root).
    (upload,) = writer.inputs["uploads"]
    assert upload["file"] == MONITOR.monitoring.config_file
    assert writer.inputs["start"] is False and writer.inputs["mustRun"] is False
    assert writer.inputs["networkMode"] == "none" and writer.inputs["capabilities"]["drops"] == ["ALL"]
    assert writer.inputs["volumes"] == [{"volumeName": mount["volumeName"], "containerPath": directory}]
    # Its data path (the image's VOLUME) under an empty tmpfs: Docker gives it no anonymous volume.
    assert list(writer.inputs["tmpfs"]) == [MONITOR.state.path]
    assert "uploads" in writer.replace_on_changes
    (volume,) = [r for r in monitoring.of_type(VOLUME) if r.inputs["name"] == mount["volumeName"]]
    assert {"label": "dockyard.dev/stack", "value": "dev"} in volume.inputs["labels"]
    assert {volume.urn, writer.urn} <= set(plans[MONITOR.name].dependencies)
    # A changed config changes a label of the service's container, which replaces it (it reads its
    # config at start).
    assert (
        labels(plans[MONITOR.name])["dockyard.dev/config-sha256"]
        == hashlib.sha256(upload["content"].encode()).hexdigest()
    )
    assert labels(writer)["dockyard.dev/config-writer"] == "true" and labels(writer)["dockyard.dev/one-shot"] == "true"
    assert monitoring.outputs["urls"][MONITOR.name] == f"http://127.0.0.1:{MONITOR.port}"
    config = yaml.safe_load(upload["content"])
    interval = prometheus_duration(duration_nanos(MONITOR.monitoring.scrape_interval) // 10**6)
    assert config["global"]["scrape_interval"] == interval
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {spec.name for spec in WITH_METRICS}  # every one runs with dev.monitoring
    for spec in WITH_METRICS:
        assert jobs[spec.name]["metrics_path"] == spec.metrics.path
        assert jobs[spec.name]["static_configs"][0]["targets"] == [f"{spec.name}:{spec.metrics_port}"]


def test_a_service_added_to_a_trial_catalog_is_scraped_with_no_other_edit(tmp_path):
    raw = yaml.safe_load(catalog_path(PROJECT_DIR).read_text())
    raw["services"]["exporter"] = {
        "image": "example/exporter:1.0.0",
        "port": 9100,
        "health": {"readiness": {"command": ["exporter", "--check"]}},
        "resources": {"memory": "64Mi", "cpu": "100m"},
        "metrics": {"path": "/probe/metrics"},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    trial = load_catalog(path)

    def jobs(stack) -> dict:
        return {
            j["job_name"]: j for j in yaml.safe_load(stack.services[MONITOR.name].monitoring_config)["scrape_configs"]
        }

    found = jobs(resolved_stack("dev", MONITORING_ON, catalog=trial))
    assert found["exporter"]["metrics_path"] == "/probe/metrics"
    assert found["exporter"]["static_configs"][0]["targets"] == ["exporter:9100"]
    # Disabled in the stack: not scraped.
    assert "exporter" not in jobs(
        resolved_stack("dev", {**MONITORING_ON, "services": {"exporter": {"enabled": False}}}, catalog=trial)
    )
    # Through the program too, as DOCKYARD_CATALOG points it at the trial file.
    run = run_program("dev", MONITORING_ON, catalog=path)
    assert "exporter:9100" in containers(run)[f"{MONITOR.name}-config"].inputs["uploads"][0]["content"]


def test_the_scrape_config_is_valid_prometheus_yaml_in_its_duration_grammar():
    text = scrape_config(
        "dev",
        Monitoring(scrape_interval="1m30s"),
        scrape_targets(WITH_METRICS, {s.name: s.name for s in CATALOG.services}),
    )
    config = yaml.safe_load(text)
    assert config["global"] == {"scrape_interval": "90s", "scrape_timeout": "10s", "evaluation_interval": "90s",
                                "external_labels": {"stack": "dev"}}  # fmt: skip
    assert prometheus_duration(1500) == "1500ms" and prometheus_duration(5000) == "5s"


# --- Kubernetes: the same declaration as pod annotations ------------------------------------------


def test_kubernetes_pods_say_where_their_metrics_are():
    run = run_program("staging", **outside_inputs("staging"))
    seen = set()
    for workload in run.of_type(DEPLOYMENT) + run.of_type(STATEFUL_SET):
        name = workload.inputs["metadata"]["labels"]["app.kubernetes.io/name"]
        annotations = workload.inputs["spec"]["template"]["metadata"].get("annotations", {})
        scrape = {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}
        spec = SPECS[name]
        if spec.metrics is None:
            assert scrape == {}, name
        else:
            seen.add(name)
            assert scrape == {
                "prometheus.io/scrape": "true",
                "prometheus.io/path": spec.metrics.path,
                "prometheus.io/port": str(spec.metrics_port),
            }
        # Not on the workload itself: discovery (kubernetes_sd role pod) reads the pods.
        assert not any(k.startswith("prometheus.io/") for k in workload.inputs["metadata"].get("annotations", {}))
    assert seen == {spec.name for spec in WITH_METRICS if spec.monitoring is None}
