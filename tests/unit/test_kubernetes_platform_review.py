"""What a platform team's reviewer and their linters send back (issue 37), per class: the
StatefulSets' headless governing Services, liveness apart from readiness (and both targets'
checks derived from the catalog's one definition), ephemeral storage and emptyDir sizes (and the
Docker tmpfs sizes from the same values), replicas spread over nodes and zones, and the rest of
the class (revision history, API tokens).

Expectations follow the catalog (testing.harness.CATALOG) and the stacks' settings; the catalog
rules run on the real loader with one edit of the project's catalog (tests/unit/catalog_files.py).
"""

from __future__ import annotations

import functools
import math

import pytest

from components.config.catalog import LOG_ALLOWANCE_BYTES, MEMORY_BACKED_PATHS
from components.core.durations import duration_nanos
from components.core.quantities import half_memory, memory_bytes
from components.plan.container import container_plan, tmpfs_options
from components.targets.kubernetes import objects as kobj
from components.targets.kubernetes import pod as kpod
from testing.harness import CATALOG, PROJECT_DIR, resolved_stack
from tests.render.render_manifests import run_stack as run_uncached
from tests.unit.catalog_files import edited, loaded, problems_at, refusal

SPECS = CATALOG.by_name()
NAME = "app.kubernetes.io/name"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
WORKLOADS = (DEPLOYMENT, STATEFUL_SET, "kubernetes:batch/v1:Job")
STACKS = ("dev", "staging", "prod")
CHECKED = [spec.name for spec in CATALOG.services if spec.health is not None and spec.long_running]
WITH_LIVENESS = [name for name in CHECKED if SPECS[name].health.liveness is not None]
BY_PATH = [name for name in CHECKED if SPECS[name].health.readiness.path is not None]
run_stack = functools.cache(run_uncached)  # one mocked run per stack for the whole module


@pytest.fixture(scope="module", params=STACKS)
def run(request):
    return run_stack(request.param)


def pod_spec(resource) -> dict:
    return resource.inputs["spec"]["template"]["spec"]


def by_service(run, kind: str) -> dict[str, object]:
    return {r.inputs["metadata"]["labels"][NAME]: r for r in run.of_type(kind)}


# --- 1. a StatefulSet's governing Service is headless -------------------------------------------


def test_each_stateful_set_is_governed_by_a_headless_service_beside_the_client_one(run):
    sets = by_service(run, STATEFUL_SET)
    assert sets or run.stack == "prod", run.stack  # prod's database is external; its redis still runs
    services = run.of_type(SERVICE)
    for name, stateful_set in sets.items():
        governing = stateful_set.inputs["spec"]["serviceName"]
        (headless,) = [s for s in services if s.inputs["metadata"]["name"] == governing]
        assert headless.inputs["spec"]["clusterIP"] == "None", name
        assert headless.inputs["spec"]["selector"] == stateful_set.inputs["spec"]["selector"]["matchLabels"], name
        assert governing != name  # the client Service keeps the service's name and its virtual IP
        (client,) = [s for s in services if s.inputs["metadata"]["name"] == name]
        assert client.inputs["spec"]["type"] == "ClusterIP" and "clusterIP" not in client.inputs["spec"]
        assert headless.inputs["spec"]["ports"] == client.inputs["spec"]["ports"], name
        assert stateful_set.urn in headless.dependencies, name  # its await finds the pods' endpoints
    headless_names = {
        s.inputs["metadata"]["labels"][NAME] for s in services if s.inputs["spec"].get("clusterIP") == "None"
    }
    assert headless_names == set(sets), run.stack  # and no other Service is headless


def test_a_service_named_like_another_services_headless_service_is_refused(tmp_path):
    stateful = next(spec.name for spec in CATALOG.services if spec.state is not None)
    raw = edited(lambda raw: raw["services"].__setitem__(f"{stateful}-headless", dict(raw["services"][stateful])))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{stateful}-headless")
    assert f"Service would be named {stateful}-headless" in why


# --- 2. liveness checks the process, readiness that it can serve; one definition -----------------


@pytest.mark.parametrize("name", WITH_LIVENESS)
def test_liveness_is_another_check_than_readiness(name):
    health = SPECS[name].health
    assert health.liveness != health.readiness
    probes = kpod.probes(SPECS[name])
    handlers = {probe: {k: v for k, v in body.items() if k in ("httpGet", "exec")} for probe, body in probes.items()}
    assert handlers["livenessProbe"] == handlers["startupProbe"] != handlers["readinessProbe"]


def test_the_docker_health_check_is_the_readiness_check():
    stack = resolved_stack("dev", {"dev": {"monitoring": True}})
    checked = [service for service in stack.services.values() if service.spec.health and service.spec.long_running]
    assert checked
    for service in checked:
        readiness, health = service.spec.health.readiness, service.spec.health
        expected = readiness.command or (*health.client, readiness.path)
        plan = container_plan(service, stack.settings, PROJECT_DIR)
        assert plan.health_test == ("CMD", *expected), service.name


@pytest.mark.parametrize("name", BY_PATH)
def test_a_readiness_path_runs_in_the_container_through_the_images_client(name):
    health = SPECS[name].health
    assert health.client and health.command == (*health.client, health.readiness.path)


@pytest.mark.parametrize("name", WITH_LIVENESS)
def test_probe_timing_follows_the_catalogs_health_timing(name):
    health = SPECS[name].health
    probes = kpod.probes(SPECS[name])
    timeout = max(1, math.ceil(duration_nanos(health.timeout) / 1e9))
    assert {body["timeoutSeconds"] for body in probes.values()} == {timeout}
    # The startup probe polls every startInterval (at least 1 s) for as long as Docker waits
    # before it calls the container unhealthy: startPeriod + retries x interval.
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] == max(1, math.ceil(duration_nanos(health.start_interval) / 1e9))
    patience = (duration_nanos(health.start_period) + health.retries * duration_nanos(health.interval)) / 1e9
    assert startup["periodSeconds"] * startup["failureThreshold"] >= patience
    assert startup["periodSeconds"] * (startup["failureThreshold"] - 1) < patience
    # Once started: out of the endpoints within 15 s, restarted within 30 s.
    assert probes["readinessProbe"]["periodSeconds"] * probes["readinessProbe"]["failureThreshold"] <= 15
    assert probes["livenessProbe"]["periodSeconds"] * probes["livenessProbe"]["failureThreshold"] <= 30


def test_without_a_liveness_check_only_readiness_is_probed():
    name = CHECKED[0]
    spec = SPECS[name].model_copy(update={"health": SPECS[name].health.model_copy(update={"liveness": None})})
    assert set(kpod.probes(spec)) == {"readinessProbe"}


def _health(raw: dict, name: str) -> dict:
    return raw["services"][name]["health"]


def test_a_liveness_check_equal_to_readiness_is_refused(tmp_path):
    name = WITH_LIVENESS[0]
    raw = edited(lambda raw: _health(raw, name).update(liveness=dict(_health(raw, name)["readiness"])))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.health.liveness")
    assert "same check as readiness" in why and "restart" in why


@pytest.mark.parametrize("check", [{}, {"path": "/a", "command": ["a"]}])
def test_a_check_must_be_a_path_or_a_command(tmp_path, check):
    name = CHECKED[0]
    raw = edited(lambda raw: _health(raw, name).update(readiness=check))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.health.readiness")
    assert "exactly one of path" in why


def test_a_readiness_path_without_a_client_is_refused(tmp_path):
    name = BY_PATH[0]
    raw = edited(lambda raw: _health(raw, name).pop("client"))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.health.client")
    assert "Docker's health check runs the image's HTTP client" in why


@pytest.mark.parametrize(
    ("key", "words"),
    [("command", "readiness: {command"), ("livenessPath", "liveness: {path"), ("readinessPath", "readiness: {path")],
)
def test_the_old_health_keys_say_what_to_write_now(tmp_path, key, words):
    name = CHECKED[0]
    raw = edited(lambda raw: _health(raw, name).update({key: ["x"] if key == "command" else "/x"}))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.health.{key}")
    assert words in why


# --- 3. ephemeral storage and sized writable paths ------------------------------------------------


def test_every_container_requests_and_limits_ephemeral_storage_and_every_empty_dir_is_sized(run):
    checked = 0
    for kind in WORKLOADS:
        for name, resource in by_service(run, kind).items():
            (container,) = pod_spec(resource)["containers"]
            spec = SPECS[name]
            assert container["resources"]["limits"]["ephemeral-storage"] == spec.ephemeral_storage, name
            assert container["resources"]["requests"]["ephemeral-storage"] == half_memory(spec.ephemeral_storage), name
            for volume in pod_spec(resource)["volumes"]:
                if "emptyDir" in volume:
                    assert volume["emptyDir"]["sizeLimit"] == spec.writable_size, (name, volume)
                    checked += 1
    assert checked


@pytest.mark.parametrize("name", [spec.name for spec in CATALOG.services])
def test_the_default_ephemeral_storage_holds_the_disk_backed_paths_and_the_logs(name):
    spec = SPECS[name]
    disk = [path for path in spec.writable_paths if path not in MEMORY_BACKED_PATHS]
    if spec.resources.ephemeral_storage is None:
        assert (
            memory_bytes(spec.ephemeral_storage) == len(disk) * memory_bytes(spec.writable_size) + LOG_ALLOWANCE_BYTES
        )
    assert memory_bytes(spec.ephemeral_storage) > len(disk) * memory_bytes(spec.writable_size)


@pytest.mark.parametrize("name", [spec.name for spec in CATALOG.services])
def test_docker_tmpfs_and_kubernetes_empty_dirs_have_one_size(name):
    spec = SPECS[name]
    volumes, _ = kpod.writable_volumes(spec)
    assert [volume["emptyDir"]["sizeLimit"] for volume in volumes] == [spec.writable_size] * len(spec.writable_paths)
    assert tmpfs_options(spec.writable_size).endswith(f"size={memory_bytes(spec.writable_size) // 2**20}m")


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ("64Mi", "rw,noexec,nosuid,size=64m"),
        ("1Gi", "rw,noexec,nosuid,size=1024m"),
        ("100M", "rw,noexec,nosuid,size=100000000"),
    ],
)
def test_tmpfs_sizes_are_written_as_docker_reads_them_back(size, options):
    assert tmpfs_options(size) == options  # 64Mi: what every container had before sizes were declared


def test_a_declared_size_and_ephemeral_storage_reach_both_targets(tmp_path):
    name = next(spec.name for spec in CATALOG.services if set(spec.writable_paths) - set(MEMORY_BACKED_PATHS))
    raw = edited(
        lambda raw: (
            raw["services"][name].update(writableSize="256Mi"),
            raw["services"][name]["resources"].update(ephemeralStorage="2Gi"),
        )
    )
    spec = loaded(tmp_path, raw).by_name()[name]
    assert kpod.resources(spec)["limits"]["ephemeral-storage"] == "2Gi"
    assert kpod.resources(spec)["requests"]["ephemeral-storage"] == "1024Mi"
    assert {volume["emptyDir"]["sizeLimit"] for volume in kpod.writable_volumes(spec)[0]} == {"256Mi"}
    assert tmpfs_options(spec.writable_size) == "rw,noexec,nosuid,size=256m"


def test_an_ephemeral_storage_limit_the_writable_paths_can_fill_is_refused(tmp_path):
    name = next(spec.name for spec in CATALOG.services if set(spec.writable_paths) - set(MEMORY_BACKED_PATHS))
    raw = edited(lambda raw: raw["services"][name]["resources"].update(ephemeralStorage=SPECS[name].writable_size))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.resources.ephemeralStorage")
    assert "evicted before a path filled up" in why


# --- 4. replicas spread over nodes (hard) and zones (best effort) ---------------------------------


def test_replicated_deployments_spread_over_nodes_and_zones():
    prod = run_stack("prod")
    spread = {}
    for name, deployment in by_service(prod, DEPLOYMENT).items():
        constraints = pod_spec(deployment).get("topologySpreadConstraints")
        if constraints:
            spread[name] = {c["topologyKey"]: c for c in constraints}
    assert spread  # prod runs its public services with two or more replicas
    for name, by_key in spread.items():
        node, zone = by_key["kubernetes.io/hostname"], by_key["topology.kubernetes.io/zone"]
        assert node["whenUnsatisfiable"] == "DoNotSchedule" and zone["whenUnsatisfiable"] == "ScheduleAnyway", name
        for constraint in (node, zone):
            assert constraint["maxSkew"] == 1
            assert constraint["labelSelector"]["matchLabels"][NAME] == name
            assert constraint["matchLabelKeys"] == ["pod-template-hash"]
            assert constraint["nodeTaintsPolicy"] == "Honor"  # a tainted control plane is no empty node


def test_one_replica_is_not_spread():
    assert kpod.topology_spread("x", 1) == []


# --- the rest of the class ----------------------------------------------------------------------


def test_workloads_keep_a_bounded_revision_history_and_mount_no_api_token(run):
    for kind in (DEPLOYMENT, STATEFUL_SET):
        for name, workload in by_service(run, kind).items():
            assert workload.inputs["spec"]["revisionHistoryLimit"] == kobj.REVISION_HISTORY_LIMIT, name
    for kind in WORKLOADS:
        for name, workload in by_service(run, kind).items():
            assert pod_spec(workload)["automountServiceAccountToken"] is False, name


def test_a_rollout_that_stops_progressing_is_failed_by_the_cluster_and_by_up(run):
    """The cluster marks a stalled rollout ProgressDeadlineExceeded after progressDeadlineSeconds;
    the provider reports it when its own wait ends, which for a release (an update) is
    kubernetes.rolloutTimeoutSeconds, for a first deploy the 20-minute create timeout."""
    deployments = by_service(run, DEPLOYMENT)
    assert deployments, run.stack
    for name, deployment in deployments.items():
        assert deployment.inputs["spec"]["progressDeadlineSeconds"] == kobj.PROGRESS_DEADLINE_SECONDS, name
        assert deployment.custom_timeouts == {"create": "20m", "update": "600s"}, name
    assert 75 < kobj.PROGRESS_DEADLINE_SECONDS < 600


def test_a_rendering_stack_blanks_the_kubeconfig_the_sdk_would_take_from_the_environment():
    """The provider refuses kubeconfig (and context) beside renderYamlToDirectory, and the Python
    SDK fills kubeconfig in from $KUBECONFIG when it is None: blank, it stays out of the way."""
    from components.config.settings import KubernetesSettings
    from components.targets.kubernetes.environment import provider_args

    class Stack:
        kubernetes = KubernetesSettings(renderYamlToDirectory="rendered", context="staging")

    args = provider_args(Stack())
    assert args["render_yaml_to_directory"] == "rendered" and args["kubeconfig"] == ""
    assert "context" not in args
    Stack.kubernetes = KubernetesSettings(context="staging")
    assert "kubeconfig" not in provider_args(Stack()) and provider_args(Stack())["context"] == "staging"


def test_the_rollout_timeout_is_a_setting_and_too_short_a_one_is_refused():
    from components.config.settings import MIN_ROLLOUT_TIMEOUT_SECONDS, KubernetesSettings

    assert KubernetesSettings(rolloutTimeoutSeconds=300).rollout_timeout_seconds == 300
    with pytest.raises(ValueError, match=f"at least {MIN_ROLLOUT_TIMEOUT_SECONDS}"):
        KubernetesSettings(rolloutTimeoutSeconds=30)


# --- the catalog's command is the image's CMD: Kubernetes' args, the entrypoint kept ---------------


def test_a_catalog_command_becomes_args_and_keeps_the_images_entrypoint(run):
    """A pod that set `command` would replace the image's entrypoint too, which Docker's command
    never does: the redis image's entrypoint turns protected mode off, and without it the real
    node's redis refused every client but loopback (backend /readyz: "DENIED Redis is running in
    protected mode")."""
    with_command = [spec.name for spec in CATALOG.services if spec.command]
    assert with_command, "the catalog has a service with a command"
    seen = 0
    for kind in WORKLOADS:
        for name, resource in by_service(run, kind).items():
            (container,) = pod_spec(resource)["containers"]
            assert "command" not in container, (run.stack, name)
            if SPECS[name].command:
                assert container["args"] == list(SPECS[name].command), (run.stack, name)
                seen += 1
    assert seen, run.stack
