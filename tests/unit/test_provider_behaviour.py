"""What the program sends, checked against what the real providers do with it.

The behaviour each test encodes was read from the providers' source (pulumi-docker and
its upstream terraform-provider-docker v4.5.0, pulumi-docker-build v0.0.22,
pulumi-kubernetes); the real engine cannot be built here (see README "Testing"), so
these run under mocks, the nearest tier that can show them.
"""

from __future__ import annotations

import pytest

from components.core.durations import duration_nanos, go_duration
from components.core.quantities import provider_cpus
from components.targets.docker import health_gates
from components.targets.docker.engine import DockerEngine
from components.targets.docker.preflight import docker_engine_problems
from components.targets.host import PreflightError
from components.targets.kubernetes.environment import EXTERNAL_SECRET_SUFFIX
from components.targets.kubernetes.pod import IMAGE_REVISION_ANNOTATION
from components.targets.kubernetes.preflight import kube_context_problems, kubeconfig_paths
from testing.harness import CATALOG, FakeEngine, outside_inputs, run_program

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
BUILD = "docker-build:index:Image"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
NAME = "app.kubernetes.io/name"
SPECS = CATALOG.by_name()
ONE_SHOT = {spec.name for spec in CATALOG.services if spec.one_shot}
# Services that run an image this project builds: their own, or another's (imageOf).
ON_BUILT_IMAGES = {spec.name for spec in CATALOG.services if spec.build or spec.image_of}


def labels(container) -> dict[str, str]:
    return {entry["label"]: entry["value"] for entry in container.inputs.get("labels", [])}


def containers(run):
    """service -> its container (by label: a service's name may hold '-')."""
    return {
        labels(c)["dockyard.dev/service"]: c
        for c in run.of_type(CONTAINER)
        if "dockyard.dev/config-writer" not in labels(c)  # the monitoring service's config, never started
    }


# --- 1. old engines ---------------------------------------------------------------------------


def test_an_engine_below_api_1_44_stops_the_program_before_any_resource():
    old = FakeEngine(api="1.41", version="20.10.24")
    with pytest.raises(PreflightError) as raised:
        run_program("dev", engine=old)
    message = str(raised.value)
    assert "20.10.24" in message and "API 1.41" in message
    assert "Docker Engine 25.0 or newer (API 1.44)" in message and "nothing was created" in message


def test_no_engine_answering_is_named_with_its_address(tmp_path):
    engine = DockerEngine(f"unix://{tmp_path}/absent.sock")
    (problem,) = docker_engine_problems(engine)
    assert f"no Docker engine answers at unix://{tmp_path}/absent.sock" in problem


def test_an_engine_address_no_transport_speaks_is_a_problem_not_a_traceback():
    with pytest.raises(PreflightError) as raised:
        run_program("dev", docker_config={"host": "npipe:////./pipe/docker_engine"})
    message = str(raised.value)
    assert "stack config docker:host gives the Docker engine address 'npipe:////./pipe/docker_engine'" in message
    assert "unix://" in message and "tcp://" in message and "ssh://" in message


def test_a_current_engine_passes():
    assert docker_engine_problems(FakeEngine(api="1.44")) == []


# --- 3. a rebuilt image reaches the containers ---------------------------------------------------


def test_containers_run_the_loaded_image_id_which_each_build_refreshes():
    run = run_program("dev")
    loaded = {r.inputs["name"]: r for r in run.of_type(REMOTE_IMAGE)}
    builds = {r.name: r for r in run.of_type(BUILD)}
    assert set(loaded) == {tags for b in builds.values() for tags in b.inputs["tags"][:1]}
    for image in loaded.values():
        assert image.inputs["keepLocally"] is True  # never deletes what the engine's owner has
        build_urn = next(b.urn for b in builds.values() if b.inputs["tags"][0] == image.inputs["name"])
        assert build_urn in image.dependencies
    assert len(loaded) == len(builds) == len([spec for spec in CATALOG.services if spec.build])
    for service, container in containers(run).items():
        if service in ON_BUILT_IMAGES:
            assert container.inputs["image"].startswith("sha256:"), service
        else:
            assert container.inputs["image"] == SPECS[service].image, service


def test_a_new_build_digest_gives_the_containers_a_new_image():
    def by_trigger(args):  # the engine answers the image ID the new build produced
        if args.typ == REMOTE_IMAGE:
            return f"{args.name}-id", {**args.inputs, "imageId": "sha256:" + ("1" if "11" in str(args.inputs) else "2") * 64}
        if args.typ == BUILD:
            return f"{args.name}-id", {**args.inputs, "digest": "sha256:" + digest * 64, "ref": args.inputs["tags"][0]}
        return None

    digest = "11"
    first = {s: c.inputs["image"] for s, c in containers(run_program("dev", new_resource_hook=by_trigger)).items()}
    digest = "22"
    second = {s: c.inputs["image"] for s, c in containers(run_program("dev", new_resource_hook=by_trigger)).items()}
    rebuilt = {s for s in first if first[s] != second[s]}
    assert rebuilt == ON_BUILT_IMAGES


def test_minikube_pods_roll_and_the_job_is_renamed_when_the_image_id_changes():
    def image_id(value):
        def hook(args):
            if args.typ == REMOTE_IMAGE:
                return f"{args.name}-id", {**args.inputs, "imageId": value}
            return None
        return hook

    runs = [run_program("dev", {"kubernetes": {"enabled": True}}, new_resource_hook=image_id("sha256:" + c * 64)) for c in "ab"]
    jobs = [{job.inputs["metadata"]["labels"][NAME]: job.inputs["metadata"]["name"] for job in run.of_type(JOB)} for run in runs]
    assert set(jobs[0]) == set(jobs[1]) == ONE_SHOT
    renamed = {service for service in ONE_SHOT if jobs[0][service] != jobs[1][service]}
    assert renamed == ONE_SHOT & ON_BUILT_IMAGES
    for run, value in zip(runs, ("a", "b"), strict=True):
        rolled = {}
        for workload in run.of_type(DEPLOYMENT) + run.of_type(STATEFUL_SET):
            annotations = workload.inputs["spec"]["template"]["metadata"].get("annotations", {})
            rolled[workload.inputs["metadata"]["name"]] = annotations.get(IMAGE_REVISION_ANNOTATION)
        assert rolled == {
            spec.name: "sha256:" + value * 64 if spec.name in ON_BUILT_IMAGES else None
            for spec in CATALOG.services if spec.long_running and spec.monitoring is None  # dev.monitoring: Docker only
        }


# --- 4. values in the form the provider reads back ----------------------------------------------


@pytest.mark.parametrize(("quantity", "read_back"), [
    ("1", "1.0"), ("2", "2.0"), ("0.5", "0.5"), ("0.25", "0.25"), ("1.5", "1.5"), ("0.75", "0.75"),
    ("1000m", "1.0"), ("500m", "0.5"), ("250m", "0.25"), ("1500m", "1.5"), ("100m", "0.1"), ("1.25", "1.25"),
])
def test_cpus_are_sent_as_the_provider_writes_them_back(quantity, read_back):
    assert provider_cpus(quantity) == read_back


def test_every_container_sends_cpus_and_durations_in_read_back_form():
    for service, container in containers(run_program("dev")).items():
        cpus = container.inputs["cpus"]
        assert cpus == provider_cpus(SPECS[service].resources.cpu), service
        assert provider_cpus(cpus) == cpus, service  # already in read-back form
        for key in ("interval", "timeout", "startPeriod", "startInterval"):
            if key in container.inputs.get("healthcheck", {}):  # a one-shot's NONE has no timing
                value = container.inputs["healthcheck"][key]
                assert value == go_duration(duration_nanos(value)), (service, key)


@pytest.mark.parametrize(("written", "go"), [
    ("2s", "2s"), ("30s", "30s"), ("60s", "1m0s"), ("90s", "1m30s"), ("3600s", "1h0m0s"),
    ("250ms", "250ms"), ("1500ms", "1.5s"), ("0.5s", "500ms"), ("1m0.25s", "1m0.25s"),
])
def test_durations_are_go_durations(written, go):
    assert go_duration(duration_nanos(written)) == go


@pytest.mark.parametrize("written", ["15", "fast", "1 s", "-1s", "", "1d"])
def test_a_duration_without_a_unit_is_refused_naming_the_form(written):
    with pytest.raises(ValueError, match="number and a unit"):
        duration_nanos(written)


def test_each_service_health_check_uses_its_catalog_timing():
    plans = containers(run_program("dev", {"dev": {"monitoring": True}}))  # the monitoring service too
    checked = [spec for spec in CATALOG.services if spec.health is not None]
    assert {spec.name for spec in checked} <= set(plans)
    for spec in checked:
        sent = plans[spec.name].inputs["healthcheck"]
        for key, written in (("startInterval", spec.health.start_interval), ("interval", spec.health.interval),
                             ("timeout", spec.health.timeout), ("startPeriod", spec.health.start_period)):
            assert sent[key] == go_duration(duration_nanos(written)), (spec.name, key)
        assert sent["retries"] == spec.health.retries, spec.name


@pytest.mark.parametrize(("swap_accounted", "expected"), [(True, "memory"), (False, -1)])
def test_memory_swap_matches_what_the_engine_stores(swap_accounted, expected):
    for service, container in containers(run_program("dev", engine=FakeEngine(swap_limit=swap_accounted))).items():
        want = container.inputs["memory"] if expected == "memory" else -1
        assert container.inputs["memorySwap"] == want, service


# --- 5./6. gates that recover and re-check on every up ------------------------------------------


def test_a_failed_one_shot_is_reported_not_raised_by_a_preview(monkeypatch):
    warnings = []
    monkeypatch.setattr(health_gates.pulumi.runtime, "is_dry_run", lambda: True)
    monkeypatch.setattr(health_gates.pulumi.log, "warn", warnings.append)
    engine = FakeEngine()
    assert health_gates.require_success(engine, "seed", "dockyard-dev-seed")([1, "boom"]) == "0"
    assert "exited with code 1" in warnings[0] and "| boom" in warnings[0]
    assert engine.removed == []  # a preview changes nothing


def test_a_failed_one_shot_is_removed_so_the_next_up_reruns_it(monkeypatch):
    monkeypatch.setattr(health_gates.pulumi.runtime, "is_dry_run", lambda: False)
    engine = FakeEngine()
    logs = "\n".join(f"line {n}" for n in range(50))
    with pytest.raises(RuntimeError, match=r"'seed' exited with code 3; services after it were not started") as raised:
        health_gates.require_success(engine, "seed", "dockyard-dev-seed")([3, logs])
    assert "| line 49" in str(raised.value) and "| line 29" not in str(raised.value)  # the last 20 lines
    assert engine.removed == ["dockyard-dev-seed"]


def test_every_dependant_waits_for_what_it_talks_to_without_a_label_that_a_preview_cannot_know():
    """The wait is a dependency on an Output resolved once the dependency is healthy: a label
    holding it was unknown in a preview, which then showed dependants replaced."""
    run = run_program("dev")
    by_service = containers(run)
    for service, container in by_service.items():
        assert not any(label.startswith("dockyard.dev/after-") for label in labels(container)), service
        for dependency in SPECS[service].depends_on:
            assert by_service[dependency].urn in container.dependencies, (service, dependency)


def test_an_unhealthy_dependency_stops_its_dependants_on_a_later_up(monkeypatch):
    monkeypatch.setattr(health_gates.pulumi.runtime, "is_dry_run", lambda: False)
    said = []
    monkeypatch.setattr(health_gates.pulumi.log, "info", said.append)
    now = [0.0]
    check = health_gates.wait_healthy(
        FakeEngine(health="unhealthy"), "db", 30, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    with pytest.raises(RuntimeError, match=r"service 'db' is unhealthy, not healthy, after 30s"):
        check("0123456789abcdef")
    assert any("waiting for db to be healthy" in line for line in said)


def test_a_healthy_dependency_passes_at_once(monkeypatch):
    monkeypatch.setattr(health_gates.pulumi.runtime, "is_dry_run", lambda: False)
    assert health_gates.wait_healthy(FakeEngine(health="healthy"), "cache", 30)("abc") == "healthy"


# --- 7. inputs the provider keeps in state only -------------------------------------------------


def test_health_check_and_tmpfs_changes_replace_the_container():
    for service, container in containers(run_program("dev")).items():
        assert {"healthcheck", "tmpfs"} <= set(container.replace_on_changes), service


# --- 9./10. staging's pushes survive it; only pushed digests are exported -----------------------


def test_pushed_images_are_retained_when_staging_is_destroyed():
    staging = run_program("staging", **outside_inputs("staging"))
    assert all(image.retain_on_delete for image in staging.of_type(BUILD))
    dev = run_program("dev")
    assert not any(image.retain_on_delete for image in dev.of_type(BUILD))  # local only: cleaned up


def test_prod_refuses_a_source_stack_that_never_pushed():
    dev_outputs = run_program("dev").outputs
    source = "organization/dockyard/staging"
    with pytest.raises(Exception, match="exports no 'images' output"):
        run_program("prod", secrets=outside_inputs("prod")["secrets"], stack_outputs={source: dev_outputs})


# --- 11. rendered manifests hold no secret -------------------------------------------------------


def test_rendered_manifests_reference_secrets_instead_of_holding_them():
    run = run_program("staging", {"kubernetes": {"renderYamlToDirectory": "rendered/staging"}}, **outside_inputs("staging"))
    assert run.of_type("kubernetes:core/v1:Secret") == []
    expected = run.outputs["kubernetes"]["externalSecrets"]
    assert expected and all(name.endswith(EXTERNAL_SECRET_SUFFIX) for name in expected)
    mounted = {
        volume["secret"]["secretName"]
        for workload in run.of_type("kubernetes:apps/v1:Deployment") + run.of_type("kubernetes:apps/v1:StatefulSet")
        for volume in workload.inputs["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in volume
    }
    assert mounted and mounted <= set(expected)


# --- 12. cluster credentials ---------------------------------------------------------------------


def test_a_missing_kube_context_is_named_with_the_files_searched(tmp_path):
    config = tmp_path / "config"
    config.write_text("contexts:\n  - name: minikube\n    context: {cluster: m, user: m}\n")
    (problem,) = kube_context_problems("staging", paths=[config])
    assert "kubeconfig context 'staging'" in problem and str(config) in problem and "minikube" in problem
    assert kube_context_problems("minikube", paths=[config]) == []
    assert kube_context_problems("", paths=[config]) == []  # the current context: the provider's call


def test_kubeconfig_paths_follow_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert kubeconfig_paths() == [tmp_path / "a", tmp_path / "b"]


# --- 13. a cold deploy finishes without await time-outs -------------------------------------------


def test_services_follow_their_workloads_and_workloads_have_long_timeouts():
    run = run_program("staging", **outside_inputs("staging"))
    workloads = {
        w.inputs["metadata"]["name"]: w
        for w in run.of_type("kubernetes:apps/v1:Deployment") + run.of_type("kubernetes:apps/v1:StatefulSet")
    }
    for service in run.of_type("kubernetes:core/v1:Service"):  # a StatefulSet's headless one too
        name = service.inputs["metadata"]["labels"]["app.kubernetes.io/name"]
        assert workloads[name].urn in service.dependencies, name
    deployments = run.of_type("kubernetes:apps/v1:Deployment")
    for workload in [*workloads.values(), *run.of_type("kubernetes:batch/v1:Job")]:
        # A release's rollout is bounded by kubernetes.rolloutTimeoutSeconds (default 600 s).
        update = "600s" if workload in deployments else "20m"
        assert workload.custom_timeouts == {"create": "20m", "update": update}
    (ingress,) = run.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    routed = ingress.inputs["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    routed_service = next(s for s in run.of_type("kubernetes:core/v1:Service") if s.inputs["metadata"]["name"] == routed)
    assert routed_service.urn in ingress.dependencies
