"""The dev stack on local Docker: hardened, health-gated containers wired from the catalog.

What to expect is derived from catalog.yaml (testing.harness.CATALOG) and the stack's
settings, so a service added to the catalog is checked by the same tests.
"""

import re

import pulumi
import pytest

from components.config.catalog import DEFAULT_USER, secret_references
from components.config.templates import render_template
from components.core.quantities import memory_mb, provider_cpus
from components.plan.container import tmpfs_options
from components.plan.validate import validate
from components.targets.docker.environment import LOOPBACK
from testing.harness import CATALOG, PROJECT_DIR, merge, run_program, stack_config

CONTAINER = "docker:index/container:Container"
OPT_OUT = "opt-out.dockyard.dev/"
SPECS = CATALOG.by_name()
# A service's host name is its name (the network alias, checked below); ports are the catalog's.
HOSTS = {name: name for name in SPECS}
PORTS = {name: spec.port for name, spec in SPECS.items() if spec.port}
_SECRET = re.compile(r"\{secret:([a-z0-9-]+)\}")


def dev_settings(overrides: dict | None = None):
    return validate("dev", merge(stack_config("dev"), overrides or {}), set(), PROJECT_DIR, CATALOG)


DEV = dev_settings()
ENABLED = [spec for spec in CATALOG.services if DEV.service(spec.name).enabled]
LONG_RUNNING = [spec.name for spec in ENABLED if spec.long_running]
ONE_SHOT = [spec.name for spec in ENABLED if spec.one_shot]
STATEFUL = [spec for spec in ENABLED if spec.state]
BUILT = [spec for spec in ENABLED if spec.build]


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def containers(run):
    return {label(r, "dockyard.dev/service"): r for r in run.of_type(CONTAINER)}


def label(resource, key):
    return {item["label"]: item["value"] for item in resource.inputs["labels"]}.get(key)


def env(resource):
    return dict(item.split("=", 1) for item in resource.inputs.get("envs", []))


def expected_ports(spec, settings) -> list[dict]:
    """A public service (and, with dev.publishDatabases, a stateful one) is published on
    127.0.0.1 at its hostPort, else its own port; nothing else is published."""
    if spec.port is None or not (spec.public or (spec.state and settings.dev.publish_databases)):
        return []
    return [{"internal": spec.port, "external": settings.service(spec.name).host_port or spec.port, "ip": LOOPBACK}]


def _expanded(template: str) -> str:
    """The template with hosts and ports filled and each templated secret expanded in place."""

    def expand(match: re.Match) -> str:
        declared = CATALOG.secrets[match.group(1)]
        return _expanded(declared.template) if declared.template else match.group(0)

    return _SECRET.sub(expand, render_template(template, HOSTS, PORTS))


def secret_values(sent: str, template: str) -> list[tuple[str, str]]:
    """(secret, value) for each secret `sent` holds; fails unless `sent` is exactly the
    catalog template with hosts and ports filled and generated secrets as letters and digits
    of their declared length."""
    parts = _SECRET.split(_expanded(template))  # literal, secret, literal, secret, ..., literal
    literals, names = parts[0::2], parts[1::2]
    pattern = re.escape(literals[0])
    for name, literal in zip(names, literals[1:], strict=True):
        generate = CATALOG.secrets[name].generate
        pattern += (f"([A-Za-z0-9]{{{generate.length}}})" if generate else "(.+?)") + re.escape(literal)
    match = re.fullmatch(pattern, sent)
    assert match, (sent, template)
    return list(zip(names, match.groups(), strict=True))


def secrets_sent(run) -> dict[str, set[str]]:
    """secret -> the values the containers received for it (checking every env var on the way)."""
    values: dict[str, set[str]] = {}
    for service, container in containers(run).items():
        spec = SPECS[service]
        sent = env(container)
        assert list(sent) == list(spec.env), service  # every catalog variable, in its order
        for key, template in spec.env.items():
            for name, value in secret_values(sent[key], template):
                values.setdefault(name, set()).add(value)
    return values


def test_one_container_per_catalog_entry(dev):
    assert set(containers(dev)) == {spec.name for spec in ENABLED}


@pytest.mark.parametrize("service", [spec.name for spec in ENABLED])
def test_every_container_is_hardened(dev, service):
    spec = SPECS[service]
    inputs = containers(dev)[service].inputs
    user = inputs["user"]
    assert user == spec.user
    assert user and not user.startswith("0") and not user.startswith("root")
    assert inputs["readOnly"] is True
    assert inputs["capabilities"] == {"drops": ["ALL"]}
    assert "no-new-privileges:true" in inputs["securityOpts"]
    assert inputs["memory"] == memory_mb(spec.resources.memory) > 0
    assert inputs["memorySwap"] == inputs["memory"]
    assert inputs["cpus"] == provider_cpus(spec.resources.cpu) and float(inputs["cpus"]) > 0
    assert inputs["logDriver"] == "json-file" and inputs["logOpts"]["max-size"]
    assert all("noexec" in options for options in inputs.get("tmpfs", {}).values())


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_containers_have_a_health_check_and_wait(dev, service):
    inputs = containers(dev)[service].inputs
    assert inputs["healthcheck"]["tests"][0] == "CMD"
    # The health gate waits (and sees a crash at once), not the provider: tests/unit/test_edge_cases.py
    assert inputs.get("wait", False) is False
    assert inputs["restart"] == "unless-stopped"


def test_health_checks_run_the_catalog_command_without_a_shell(dev):
    # Exec form ("CMD", not "CMD-SHELL"): the app images have no shell. That the binary the
    # catalog names is in the image is the engine tier's to see (docs/services.md).
    tests = {name: c.inputs["healthcheck"]["tests"] for name, c in containers(dev).items()
             if "healthcheck" in c.inputs and name not in ONE_SHOT}
    assert tests == {spec.name: ["CMD", *spec.health.command] for spec in ENABLED if spec.health}
    assert set(tests) >= set(LONG_RUNNING)


@pytest.mark.parametrize("service", ONE_SHOT)
def test_one_shots_turn_off_the_image_health_check(dev, service):
    """A one-shot runs the image of a server (imageOf) without the server: its HEALTHCHECK
    would only take CPU from the run."""
    check = containers(dev)[service].inputs["healthcheck"]
    assert check["tests"] == ["NONE"]
    # Timings in read-back form: Docker would fill zeros from the image's own HEALTHCHECK.
    assert all(check[key] == "1s" for key in ("interval", "timeout", "startPeriod", "startInterval"))


@pytest.mark.parametrize("service", ONE_SHOT)
def test_one_shots_run_to_completion_and_gate_what_starts_after_them(dev, service):
    by_service = containers(dev)
    spec, one_shot = SPECS[service], by_service[service]
    assert one_shot.inputs["attach"] is True and one_shot.inputs["mustRun"] is False
    assert one_shot.inputs["restart"] == "no"
    assert one_shot.inputs.get("command") == (list(spec.command) if spec.command else None)
    if spec.image_of:
        assert one_shot.inputs["image"] == by_service[spec.image_of].inputs["image"]
    gated = [other.name for other in ENABLED if service in other.starts_after]
    for name in gated:
        assert one_shot.urn in by_service[name].dependencies, name


def test_start_order_follows_the_catalog(dev):
    by_service = containers(dev)
    for spec in ENABLED:
        for dependency in spec.depends_on:
            assert by_service[dependency].urn in by_service[spec.name].dependencies, (spec.name, dependency)


def test_network_aliases_are_service_names(dev):
    for service, container in containers(dev).items():
        [network] = container.inputs["networksAdvanced"]
        assert network["aliases"] == [service]
        assert network["name"] == "dockyard-dev-net"


def test_environment_points_at_the_right_aliases(dev):
    # Every variable is its catalog template with {host:x} = x (the alias), {port:x} = x's
    # port, and each secret filled with one value everywhere it is used.
    values = secrets_sent(dev)
    assert {name: len(seen) for name, seen in values.items()} == dict.fromkeys(values, 1)


def test_generated_secrets_are_shared_and_secret(dev):
    by_service = containers(dev)
    used = {
        name for spec in ENABLED for value in spec.env.values()
        for kind, name in secret_references(value, CATALOG.secrets) if kind == "secret"
    }
    generated = {name: CATALOG.secrets[name].generate for name in used if CATALOG.secrets[name].generate}
    values = secrets_sent(dev)
    for name, generate in generated.items():
        (value,) = values[name]  # one value, shared by every container that uses it
        assert len(value) == generate.length, name
    for spec in ENABLED:
        if spec.secret_env_names():
            assert "envs" in by_service[spec.name].secret_inputs, spec.name
        else:
            assert "envs" not in by_service[spec.name].secret_inputs, spec.name
    generators = dev.of_type("random:index/randomPassword:RandomPassword")
    assert sorted(g.inputs["length"] for g in generators) == sorted(g.length for g in generated.values())
    assert all(generator.inputs["special"] is False for generator in generators)


def test_only_apps_are_published_and_only_on_loopback(dev):
    by_service = containers(dev)
    for spec in ENABLED:
        assert by_service[spec.name].inputs.get("ports", []) == expected_ports(spec, DEV), spec.name


def test_publish_databases_binds_them_to_loopback():
    settings = dev_settings({"dev": {"publishDatabases": True}})
    by_service = containers(run_program("dev", {"dev": {"publishDatabases": True}}))
    for spec in ENABLED:
        assert by_service[spec.name].inputs.get("ports", []) == expected_ports(spec, settings), spec.name


def test_data_lives_in_named_volumes_at_the_right_paths(dev):
    by_service = containers(dev)
    volumes = {r.inputs["name"]: r for r in dev.of_type("docker:index/volume:Volume")}
    assert set(volumes) == {f"dockyard-dev-{spec.name}-data" for spec in STATEFUL}
    for spec in ENABLED:
        volume = f"dockyard-dev-{spec.name}-data"
        expected = [{"volumeName": volume, "containerPath": spec.state.path}] if spec.state else []
        assert by_service[spec.name].inputs.get("volumes", []) == expected, spec.name
        if spec.state:
            assert volumes[volume].urn in by_service[spec.name].dependencies, spec.name


def test_upstream_uid_is_a_named_opt_out(dev):
    by_service = containers(dev)
    for spec in ENABLED:
        container = by_service[spec.name]
        labels = {item["label"]: item["value"] for item in container.inputs["labels"]}
        opt_outs = {key[len(OPT_OUT):]: value for key, value in labels.items() if key.startswith(OPT_OUT)}
        assert opt_outs == spec.opt_outs, spec.name
        assert container.inputs["user"] == spec.user
        if spec.user != DEFAULT_USER:
            assert opt_outs.get("upstream-uid"), spec.name


def test_writable_paths_are_tmpfs(dev):
    by_service = containers(dev)
    for spec in ENABLED:
        assert by_service[spec.name].inputs["tmpfs"] == dict.fromkeys(spec.writable_paths, tmpfs_options(spec.writable_size)), spec.name
        if "writable_paths" not in spec.model_fields_set:
            assert set(spec.writable_paths) == {"/tmp"}, spec.name  # the default


def test_hot_reload_uses_dev_stage_and_bind_mount_as_named_opt_out():
    run = run_program("dev", {"dev": {"hotReload": True}})
    by_service = containers(run)
    for spec in BUILT:
        inputs = by_service[spec.name].inputs
        assert inputs["readOnly"] is False
        assert label(by_service[spec.name], "opt-out.dockyard.dev/read-only-root")
        [bind] = [v for v in inputs["volumes"] if "hostPath" in v]
        assert bind["containerPath"] == spec.build.source_mount
        assert bind["hostPath"] == str(PROJECT_DIR / spec.build.context / spec.build.source_dir)
        assert bind["readOnly"] is True
    targets = {r.name: r.inputs["target"] for r in run.of_type("docker-build:index:Image")}
    assert targets == {f"{spec.name}-image": spec.build.dev_target for spec in BUILT}
    for spec in ENABLED:
        if spec.build is None:
            assert by_service[spec.name].inputs["readOnly"] is True, spec.name


def test_resources_come_from_settings():
    service = ENABLED[0].name
    run = run_program("dev", {"services": {service: {"memory": "1Gi", "cpu": "1500m"}}})
    inputs = containers(run)[service].inputs
    assert inputs["memory"] == 1024 and inputs["cpus"] == "1.5"


def test_components_are_parented_and_typed(dev):
    local = dev.named("local")
    assert local.type == "dockyard:index:DockerEnvironment"
    for resource in dev.of_type(CONTAINER) + dev.of_type("docker:index/network:Network"):
        assert resource.parent == local.urn


def test_stack_outputs(dev):
    urls = {
        spec.name: f"http://{LOOPBACK}:{ports[0]['external']}"
        for spec in ENABLED if spec.public and (ports := expected_ports(spec, DEV))
    }
    assert dev.outputs["urls"] == urls
    assert dev.outputs["network"] == "dockyard-dev-net"
    assert set(dev.outputs["imageRefs"]) == {spec.name for spec in BUILT}


def test_make_down_keeps_the_data_volumes(dev):
    # `pulumi destroy` leaves them in Docker (as `compose down`); `make down purge=1` removes them.
    if not STATEFUL:
        pytest.skip("the catalog declares no state")
    volumes = dev.of_type("docker:index/volume:Volume")
    assert len(volumes) == len(STATEFUL) and all(volume.retain_on_delete for volume in volumes)
    assert not any(c.retain_on_delete for c in dev.of_type("docker:index/container:Container"))


def test_each_wait_is_announced_with_its_service_and_budget_when_its_container_is_created(monkeypatch):
    from components.targets.docker import announcements, environment
    from components.targets.docker.container_inputs import HEALTH_WAIT_SECONDS

    made: list[announcements.WaitAnnouncements] = []

    def kept() -> announcements.WaitAnnouncements:
        made.append(announcements.WaitAnnouncements(on_create=True))  # the mocks run hooks, as the CLI does
        return made[-1]

    said: list[str] = []
    monkeypatch.setattr(environment, "wait_announcements", kept)
    monkeypatch.setattr(announcements.pulumi.log, "info", lambda message, resource=None: said.append(message))
    run = run_program("dev")
    assert not [message for message in said if "waiting until" in message or "runs to completion" in message], (
        "registering the containers (every `up`, a no-change one too) says nothing about waiting"
    )
    (announced,) = made
    for container in run.of_type("docker:index/container:Container"):  # the engine creates each once
        announced.announce(pulumi.ResourceHookArgs(urn=container.urn, id="", name=container.name,
                                                   type=container.type, new_inputs=container.inputs))  # fmt: skip
    for service in LONG_RUNNING:
        assert f"{service}: waiting until its health check passes (up to {HEALTH_WAIT_SECONDS}s)" in said
    for service in ONE_SHOT:
        assert f"{service}: runs to completion before the services after it start" in said
