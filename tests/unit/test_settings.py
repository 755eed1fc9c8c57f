"""Bad settings fail before any resource exists, with the stack, key, value and what is allowed."""

import pytest

from components.catalog import CATALOG, ServiceSpec
from components.settings import SettingsError, cpu_cores, memory_bytes
from components.stack_config import validate
from tests.harness import PROJECT_DIR, merge, run_program, stack_config


def problems_for(stack: str, overrides: dict, secrets: set[str] = frozenset(), catalog=CATALOG) -> SettingsError:
    raw = merge(stack_config("dev"), overrides)
    with pytest.raises(SettingsError) as caught:
        validate(stack, raw, set(secrets), PROJECT_DIR, catalog)
    return caught.value


def keys(error: SettingsError) -> list[str]:
    return [problem.key for problem in error.problems]


def test_dev_settings_are_valid():
    settings = validate("dev", stack_config("dev"), set(), PROJECT_DIR)
    assert settings.kind.value == "dev" and settings.runs_docker


def test_unknown_stack_kind_is_rejected():
    error = problems_for("dev", {"kind": "qa"})
    assert keys(error) == ["kind"]
    assert "dockyard:kind = 'qa'" in str(error) and "dev, staging, prod" in str(error)
    assert "stack 'dev'" in str(error)


def test_unknown_target_is_rejected():
    error = problems_for("dev", {"target": "nomad"})
    assert keys(error) == ["target"]
    assert "docker, kubernetes" in str(error)


def test_replicas_below_one_are_rejected():
    error = problems_for("dev", {"services": {"backend": {"replicas": 0}}})
    assert keys(error) == ["services.backend.replicas"]
    assert "at least 1" in str(error)


@pytest.mark.parametrize("memory", ["lots", "512MB", "-1Gi", "1Ki"])
def test_bad_memory_quantity_is_rejected(memory):
    error = problems_for("dev", {"services": {"backend": {"memory": memory}}})
    assert keys(error) == ["services.backend.memory"]
    assert "memory quantity" in str(error) and repr(memory) in str(error)


@pytest.mark.parametrize("cpu", ["fast", "0", "1.2345", "-1"])
def test_bad_cpu_quantity_is_rejected(cpu):
    error = problems_for("dev", {"services": {"frontend": {"cpu": cpu}}})
    assert keys(error) == ["services.frontend.cpu"]
    assert "CPU quantity" in str(error)


@pytest.mark.parametrize("port", [0, 65536, 70000])
def test_port_outside_range_is_rejected(port):
    error = problems_for("dev", {"services": {"frontend": {"hostPort": port}}})
    assert keys(error) == ["services.frontend.hostPort"]
    assert "1 to 65535" in str(error)


def test_catalog_port_outside_range_is_rejected():
    broken = tuple(
        ServiceSpec(**{**spec.__dict__, "port": 99999}) if spec.name == "redis" else spec
        for spec in CATALOG
    )
    error = problems_for("dev", {}, catalog=broken)
    assert keys(error) == ["catalog.redis.port"]


@pytest.mark.parametrize("tag", ["latest", ""])
def test_latest_or_missing_tag_is_rejected_outside_dev(tag):
    error = problems_for("staging", {"kind": "staging", "images": {"tag": tag, "registry": "r.example/x"}})
    assert "images.tag" in keys(error)
    assert "only allowed on dev" in str(error) or "Docker tag" in str(error)


def test_latest_tag_is_allowed_on_dev():
    settings = validate("dev", merge(stack_config("dev"), {"images": {"tag": "latest"}}), set(), PROJECT_DIR)
    assert settings.images.tag == "latest"


def test_push_without_registry_is_rejected():
    error = problems_for("dev", {"images": {"push": True}})
    assert keys(error) == ["images.push"]
    assert "dockyard:images.registry" in str(error)


def test_builder_without_registry_is_rejected():
    error = problems_for("dev", {"images": {"builder": "ci"}})
    assert keys(error) == ["images.builder"]


def test_hot_reload_outside_dev_is_rejected():
    error = problems_for("staging", {"kind": "staging", "images": {"tag": "1.0.0"}, "dev": {"hotReload": True}})
    assert keys(error) == ["dev.hotReload"]
    assert "only allowed on the dev stack, not staging" in str(error)


def test_unknown_keys_are_rejected_not_ignored():
    error = problems_for("dev", {"imgaes": {"tag": "x"}, "images": {"tga": "x"}, "services": {"cache": {}}})
    assert sorted(keys(error)) == ["images.tga", "imgaes", "services.cache"]
    assert "known: backend, frontend, migrations, postgres, redis" in str(error)


def test_dependency_on_missing_service_is_rejected():
    broken = tuple(
        ServiceSpec(**{**spec.__dict__, "talks_to": ("postgres", "memcached")}) if spec.name == "backend" else spec
        for spec in CATALOG
    )
    error = problems_for("dev", {}, catalog=broken)
    assert keys(error) == ["catalog.backend.dependsOn"]
    assert "'memcached'" in str(error) and "known:" in str(error)


def test_dependency_cycle_is_rejected():
    broken = tuple(
        ServiceSpec(**{**spec.__dict__, "talks_to": ("frontend",)}) if spec.name == "backend" else spec
        for spec in CATALOG
    )
    error = problems_for("dev", {}, catalog=broken)
    assert keys(error) == ["catalog.dependsOn"]
    assert "cycle" in str(error) and "backend" in str(error) and "frontend" in str(error)


def test_disabled_database_needs_the_external_url_secret():
    error = problems_for("dev", {"services": {"postgres": {"enabled": False}}})
    assert keys(error) == ["services.postgres.enabled"]
    assert "dockyard:databaseUrl" in str(error)
    validate("dev", merge(stack_config("dev"), {"services": {"postgres": {"enabled": False}}}), {"databaseUrl"}, PROJECT_DIR)


def test_disabling_a_needed_service_without_replacement_is_rejected():
    error = problems_for("dev", {"services": {"redis": {"enabled": False}}})
    assert keys(error) == ["services.redis.enabled"]
    assert "backend" in str(error)


def test_built_service_image_override_is_rejected():
    error = problems_for("dev", {"services": {"backend": {"image": "x/y:1"}}})
    assert keys(error) == ["services.backend.image"]
    assert "baseImages" in str(error)


def test_missing_ca_bundle_file_is_rejected():
    error = problems_for("dev", {"images": {"caBundle": "no/such/bundle.pem"}})
    assert keys(error) == ["images.caBundle"]


def test_every_problem_is_listed_at_once():
    error = problems_for("staging", {
        "kind": "staging",
        "images": {"tag": "latest", "push": True},
        "dev": {"hotReload": True},
        "services": {"backend": {"replicas": 0, "memory": "huge"}},
    })
    assert set(keys(error)) >= {"images.tag", "images.push", "dev.hotReload", "services.backend.replicas", "services.backend.memory"}
    assert f"has {len(error.problems)} invalid setting(s)" in str(error)


def test_program_fails_before_registering_any_resource():
    seen = []
    with pytest.raises(SettingsError, match="services.backend.replicas"):
        run_program("dev", {"services": {"backend": {"replicas": 0}}}, new_resource_hook=lambda args: seen.append(args.typ))
    assert seen == []


def test_quantities_convert():
    assert memory_bytes("512Mi") == 512 * 2**20
    assert memory_bytes("1G") == 10**9
    assert cpu_cores("250m") == 0.25
    assert cpu_cores("2") == 2.0


def test_kubernetes_problems_are_listed_with_the_rest():
    error = problems_for("prod", {
        "kind": "prod", "target": "kubernetes", "images": {"tag": "1.0.0"},
        "promotion": {"fromStack": "org/dockyard/staging"},
        "services": {"frontend": {"replicas": 1}, "backend": {"memory": "lots"}},
    })
    assert {"services.frontend.replicas", "services.backend.memory"} <= set(keys(error))
