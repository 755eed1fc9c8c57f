"""The dev stack on local Docker: hardened, health-gated containers wired from the catalog."""

import pytest

from components.catalog import CATALOG
from tests.harness import run_program

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def containers(run):
    return {r.inputs["labels"][1]["value"]: r for r in run.of_type(CONTAINER)}


def label(resource, key):
    return {item["label"]: item["value"] for item in resource.inputs["labels"]}.get(key)


def env(resource):
    return dict(item.split("=", 1) for item in resource.inputs["envs"])


def test_one_container_per_catalog_entry(dev):
    assert set(containers(dev)) == {spec.name for spec in CATALOG}


@pytest.mark.parametrize("service", [spec.name for spec in CATALOG])
def test_every_container_is_hardened(dev, service):
    inputs = containers(dev)[service].inputs
    user = inputs["user"]
    assert user and not user.startswith("0") and not user.startswith("root")
    assert inputs["readOnly"] is True
    assert inputs["capabilities"] == {"drops": ["ALL"]}
    assert "no-new-privileges:true" in inputs["securityOpts"]
    assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"]
    assert float(inputs["cpus"]) > 0
    assert inputs["logDriver"] == "json-file" and inputs["logOpts"]["max-size"]
    assert "/tmp" in inputs["tmpfs"]


@pytest.mark.parametrize("service", ["postgres", "redis", "backend", "frontend"])
def test_long_running_containers_have_a_health_check_and_wait(dev, service):
    inputs = containers(dev)[service].inputs
    assert inputs["healthcheck"]["tests"][0] == "CMD"
    assert inputs["wait"] is True and inputs["waitTimeout"] > 0
    assert inputs["restart"] == "unless-stopped"


def test_health_checks_use_binaries_in_their_images(dev):
    tests = {name: c.inputs["healthcheck"]["tests"][1] for name, c in containers(dev).items() if "healthcheck" in c.inputs}
    assert tests == {"postgres": "pg_isready", "redis": "redis-cli", "backend": "python", "frontend": "node"}


def test_migrations_run_to_completion_and_gate_the_backend(dev):
    by_service = containers(dev)
    migrations, backend = by_service["migrations"], by_service["backend"]
    assert migrations.inputs["attach"] is True and migrations.inputs["mustRun"] is False
    assert migrations.inputs["restart"] == "no"
    assert migrations.urn in backend.dependencies
    assert label(backend, "dockyard.dev/after-migrations") == "0"
    assert migrations.inputs["image"] == backend.inputs["image"]
    assert migrations.inputs["command"] == ["python", "-m", "todo_api.migrate"]


def test_start_order_follows_the_catalog(dev):
    by_service = containers(dev)
    for spec in CATALOG:
        for dependency in spec.depends_on:
            assert by_service[dependency].urn in by_service[spec.name].dependencies, (spec.name, dependency)


def test_network_aliases_are_service_names(dev):
    for service, container in containers(dev).items():
        [network] = container.inputs["networksAdvanced"]
        assert network["aliases"] == [service]
        assert network["name"] == "dockyard-dev-net"


def test_environment_points_at_the_right_aliases(dev):
    by_service = containers(dev)
    backend = env(by_service["backend"])
    assert backend["DATABASE_URL"].startswith("postgresql+psycopg://todo:")
    assert backend["DATABASE_URL"].endswith("@postgres:5432/todo")
    assert backend["REDIS_URL"] == "redis://redis:6379/0"
    assert env(by_service["migrations"])["DATABASE_URL"] == backend["DATABASE_URL"]
    assert env(by_service["frontend"])["BACKEND_URL"] == "http://backend:8000"


def test_generated_password_is_shared_and_secret(dev):
    by_service = containers(dev)
    password = env(by_service["postgres"])["POSTGRES_PASSWORD"]
    assert len(password) == 32
    assert f":{password}@" in env(by_service["backend"])["DATABASE_URL"]
    for service in ("postgres", "backend", "migrations"):
        assert "envs" in by_service[service].secret_inputs, service
    assert "envs" not in by_service["frontend"].secret_inputs
    generator = dev.of_type("random:index/randomPassword:RandomPassword")[0]
    assert generator.inputs["special"] is False


def test_only_apps_are_published_and_only_on_loopback(dev):
    by_service = containers(dev)
    assert by_service["backend"].inputs["ports"] == [{"internal": 8000, "external": 8000, "ip": "127.0.0.1"}]
    assert by_service["frontend"].inputs["ports"] == [{"internal": 3000, "external": 3000, "ip": "127.0.0.1"}]
    for service in ("postgres", "redis", "migrations"):
        assert by_service[service].inputs.get("ports", []) == []


def test_publish_databases_binds_them_to_loopback():
    run = run_program("dev", {"dev": {"publishDatabases": True}})
    for service, port in (("postgres", 5432), ("redis", 6379)):
        assert containers(run)[service].inputs["ports"] == [{"internal": port, "external": port, "ip": "127.0.0.1"}]


def test_data_lives_in_named_volumes_at_the_right_paths(dev):
    by_service = containers(dev)
    volumes = {r.inputs["name"]: r for r in dev.of_type("docker:index/volume:Volume")}
    assert set(volumes) == {"dockyard-dev-postgres-data", "dockyard-dev-redis-data"}
    assert by_service["postgres"].inputs["volumes"] == [{"volumeName": "dockyard-dev-postgres-data", "containerPath": "/var/lib/postgresql/data"}]
    assert by_service["redis"].inputs["volumes"] == [{"volumeName": "dockyard-dev-redis-data", "containerPath": "/data"}]
    assert volumes["dockyard-dev-postgres-data"].urn in by_service["postgres"].dependencies


def test_upstream_uid_is_a_named_opt_out(dev):
    postgres = containers(dev)["postgres"]
    assert postgres.inputs["user"] == "999:999"
    assert label(postgres, "opt-out.dockyard.dev/upstream-uid")


def test_writable_paths_are_tmpfs(dev):
    by_service = containers(dev)
    assert set(by_service["frontend"].inputs["tmpfs"]) == {"/tmp", "/app/.next/cache"}
    assert set(by_service["postgres"].inputs["tmpfs"]) == {"/tmp", "/var/run/postgresql"}


def test_hot_reload_uses_dev_stage_and_bind_mount_as_named_opt_out():
    run = run_program("dev", {"dev": {"hotReload": True}})
    by_service = containers(run)
    for service, mount in (("backend", "/app/src"), ("frontend", "/app/src")):
        inputs = by_service[service].inputs
        assert inputs["readOnly"] is False
        assert label(by_service[service], "opt-out.dockyard.dev/read-only-root")
        [bind] = [v for v in inputs["volumes"] if "hostPath" in v]
        assert bind["containerPath"] == mount and bind["hostPath"].endswith(f"apps/{service}/src")
        assert bind["readOnly"] is True
    targets = {r.name: r.inputs["target"] for r in run.of_type("docker-build:index:Image")}
    assert targets == {"backend-image": "dev", "frontend-image": "dev"}
    assert by_service["postgres"].inputs["readOnly"] is True


def test_resources_come_from_settings():
    run = run_program("dev", {"services": {"backend": {"memory": "1Gi", "cpu": "1500m"}}})
    backend = containers(run)["backend"].inputs
    assert backend["memory"] == 1024 and backend["cpus"] == "1.5"


def test_one_shot_failure_stops_what_follows():
    from components.docker_env import _require_success

    assert _require_success("migrations", "dockyard-dev-migrations")(0) == "0"
    with pytest.raises(RuntimeError, match=r"'migrations' exited with code 3; see `docker logs dockyard-dev-migrations`"):
        _require_success("migrations", "dockyard-dev-migrations")(3)


def test_components_are_parented_and_typed(dev):
    local = dev.named("local")
    assert local.type == "dockyard:index:LocalEnvironment"
    for resource in dev.of_type(CONTAINER) + dev.of_type("docker:index/network:Network"):
        assert resource.parent == local.urn


def test_stack_outputs(dev):
    assert dev.outputs["urls"] == {"backend": "http://127.0.0.1:8000", "frontend": "http://127.0.0.1:3000"}
    assert dev.outputs["network"] == "dockyard-dev-net"
    assert set(dev.outputs["imageRefs"]) == {"backend", "frontend"}


def test_make_down_keeps_the_data_volumes(dev):
    # `pulumi destroy` leaves them in Docker (as `compose down`); `make down purge=1` removes them.
    volumes = dev.of_type("docker:index/volume:Volume")
    assert volumes and all(volume.retain_on_delete for volume in volumes)
    assert not any(c.retain_on_delete for c in dev.of_type("docker:index/container:Container"))


def test_each_wait_is_announced_with_its_service_and_budget(caplog):
    import logging

    from components.docker_env import HEALTH_WAIT_SECONDS

    with caplog.at_level(logging.INFO):
        run_program("dev")
    messages = [record.getMessage() for record in caplog.records]
    for service in ("postgres", "redis", "backend", "frontend"):
        assert f"{service}: waiting until its health check passes (up to {HEALTH_WAIT_SECONDS}s)" in messages
    assert "migrations: runs to completion before the services after it start" in messages
