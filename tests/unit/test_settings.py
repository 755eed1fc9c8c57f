"""Bad settings fail before any resource exists, with the stack, key, value and what is allowed.

Services are taken from the catalog (testing.harness.CATALOG), not named: a rule about
"a service" is checked on one from catalog.yaml, a rule about each on every one. The
catalog's own rules (a catalog refused on its own) are in test_catalog_rules.py.
"""

import pytest

from components.config.catalog import Catalog, SecretSpec
from components.config.catalog_rules import catalog_problems
from components.config.settings import SettingsError
from components.core.quantities import cpu_cores, memory_bytes
from components.plan.validate import validate
from testing.harness import CATALOG, PROJECT_DIR, merge, run_program, stack_config

NAMES = sorted(spec.name for spec in CATALOG.services)
SERVICE = CATALOG.services[0].name  # for rules that hold for any service
# Public services that run on prod (the monitoring service runs with dev.monitoring on dev only).
PUBLIC = [spec.name for spec in CATALOG.services if spec.public and spec.monitoring is None]
# Services whose image is not an upstream reference: built here, or another's (imageOf).
NOT_UPSTREAM = [spec.name for spec in CATALOG.services if spec.image is None]
# Services a config secret replaces when disabled (an external database), with that secret.
REPLACEABLE = [(spec.name, CATALOG.replacement(spec.name)) for spec in CATALOG.services if CATALOG.replacement(spec.name)]


def users_of(name: str) -> list[str]:
    return [spec.name for spec in CATALOG.services if name in spec.depends_on]


# Services others need and nothing replaces: disabling one leaves its users without it.
NEEDED = [spec.name for spec in CATALOG.services if users_of(spec.name) and not CATALOG.replacement(spec.name)]


def unknown_service() -> str:
    name = "cache"
    while name in NAMES:
        name += "-x"
    return name


def problems_for(stack: str, overrides: dict, secrets: set[str] = frozenset(), catalog: Catalog = CATALOG) -> SettingsError:
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


@pytest.mark.parametrize("service", NAMES)
def test_replicas_below_one_are_rejected(service):
    error = problems_for("dev", {"services": {service: {"replicas": 0}}})
    assert keys(error) == [f"services.{service}.replicas"]
    assert "at least 1" in str(error)


@pytest.mark.parametrize("memory", ["lots", "512MB", "-1Gi", "1Ki"])
def test_bad_memory_quantity_is_rejected(memory):
    error = problems_for("dev", {"services": {SERVICE: {"memory": memory}}})
    assert keys(error) == [f"services.{SERVICE}.memory"]
    assert "memory quantity" in str(error) and repr(memory) in str(error)


@pytest.mark.parametrize("cpu", ["fast", "0", "0m", "-1"])
def test_bad_cpu_quantity_is_rejected(cpu):
    error = problems_for("dev", {"services": {SERVICE: {"cpu": cpu}}})
    assert keys(error) == [f"services.{SERVICE}.cpu"]
    assert "CPU quantity above 0" in str(error)


@pytest.mark.parametrize(
    ("cpu", "written", "rounded"),
    [("1.2345", "1234.5m", "1235m"), ("0.0001", "0.1m", "1m"), ("1.5m", "1.5m", "2m"), (0.0001, "0.1m", "1m")],
)
def test_a_cpu_finer_than_a_millicore_is_refused_saying_what_kubernetes_would_run(cpu, written, rounded):
    # Kubernetes rounds a finer quantity up to whole millicores: the stack would not run what it says.
    error = problems_for("dev", {"services": {SERVICE: {"cpu": cpu}}})
    assert keys(error) == [f"services.{SERVICE}.cpu"]
    assert (
        f"is {written}, finer than 1m (0.001), Kubernetes' smallest CPU unit: it would run it as {rounded}; "
        f"write whole millicores, e.g. {rounded}"
    ) in str(error)


@pytest.mark.parametrize(("memory", "exact"), [("1.1Gi", "1181116006.4"), ("6291456.5", "6291456.5")])
def test_a_memory_quantity_with_a_fraction_of_a_byte_is_refused(memory, exact):
    error = problems_for("dev", {"services": {SERVICE: {"memory": memory}}})
    assert keys(error) == [f"services.{SERVICE}.memory"]
    assert f"is {exact} bytes, a fraction of a byte, which Kubernetes would round up" in str(error)


@pytest.mark.parametrize("service", PUBLIC)
@pytest.mark.parametrize("port", [0, 65536, 70000])
def test_port_outside_range_is_rejected(port, service):
    error = problems_for("dev", {"services": {service: {"hostPort": port}}})
    assert keys(error) == [f"services.{service}.hostPort"]
    assert "1 to 65535" in str(error)


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
    unknown = unknown_service()
    error = problems_for("dev", {"imgaes": {"tag": "x"}, "images": {"tga": "x"}, "services": {unknown: {}}})
    assert sorted(keys(error)) == sorted(["images.tga", "imgaes", f"services.{unknown}"])
    assert f"known: {', '.join(NAMES)}" in str(error)


@pytest.mark.parametrize(("service", "secret"), REPLACEABLE)
def test_disabled_database_needs_the_external_url_secret(service, secret):
    # The reference app's database (postgres -> databaseUrl); any service with a replacement.
    error = problems_for("dev", {"services": {service: {"enabled": False}}})
    assert keys(error) == [f"services.{service}.enabled"]
    assert f"dockyard:{secret}" in str(error)
    settings = validate("dev", merge(stack_config("dev"), {"services": {service: {"enabled": False}}}), {secret}, PROJECT_DIR)
    assert not settings.service(service).enabled


@pytest.mark.parametrize("service", NEEDED)
def test_disabling_a_needed_service_without_replacement_is_rejected(service):
    error = problems_for("dev", {"services": {service: {"enabled": False}}})
    assert keys(error) == [f"services.{service}.enabled"]
    assert f"{', '.join(users_of(service))} need(s) {service}, which has no external replacement" in str(error)


@pytest.mark.parametrize("env_value", ["{secret:api-token}", "{secret:auth-header}"], ids=["directly", "through-a-template"])
def test_a_config_secret_a_service_uses_must_be_set(env_value):
    # A secret read from config only (no generate, no template), used by a service's env
    # directly or through another secret's template: unset, it is named before any resource
    # (through a template it used to reach `pulumi up` as a KeyError).
    service = SERVICE
    assert not {"api-token", "auth-header"} & set(CATALOG.secrets)
    secrets = {
        **CATALOG.secrets,
        "api-token": SecretSpec(config="apiToken"),
        "auth-header": SecretSpec(template="Bearer {secret:api-token}"),
    }
    specs = tuple(
        spec.model_copy(update={"env": {**spec.env, "AUTH": env_value}}) if spec.name == service else spec
        for spec in CATALOG.services
    )
    catalog = Catalog(services=specs, secrets=secrets, source=CATALOG.source)
    assert catalog_problems(catalog) == []
    error = problems_for("dev", {}, catalog=catalog)
    assert keys(error) == ["apiToken"]
    assert "pulumi config set --secret apiToken" in str(error)
    settings = validate("dev", stack_config("dev"), {"apiToken"}, PROJECT_DIR, catalog)
    assert settings.kind.value == "dev"


@pytest.mark.parametrize("service", NOT_UPSTREAM)
def test_built_service_image_override_is_rejected(service):
    error = problems_for("dev", {"services": {service: {"image": "x/y:1"}}})
    assert keys(error) == [f"services.{service}.image"]
    assert "baseImages" in str(error)


def test_missing_ca_bundle_file_is_rejected():
    error = problems_for("dev", {"images": {"caBundle": "no/such/bundle.pem"}})
    assert keys(error) == ["images.caBundle"]


def test_every_problem_is_listed_at_once():
    error = problems_for("staging", {
        "kind": "staging",
        "images": {"tag": "latest", "push": True},
        "dev": {"hotReload": True},
        "services": {SERVICE: {"replicas": 0, "memory": "huge"}},
    })
    expected = {"images.tag", "images.push", "dev.hotReload", f"services.{SERVICE}.replicas", f"services.{SERVICE}.memory"}
    assert set(keys(error)) >= expected
    assert f"has {len(error.problems)} invalid setting(s)" in str(error)


def test_program_fails_before_registering_any_resource():
    seen = []
    with pytest.raises(SettingsError, match=f"services.{SERVICE}.replicas"):
        run_program("dev", {"services": {SERVICE: {"replicas": 0}}}, new_resource_hook=lambda args: seen.append(args.typ))
    assert seen == []


def test_quantities_convert():
    assert memory_bytes("512Mi") == 512 * 2**20
    assert memory_bytes("1G") == 10**9
    assert cpu_cores("250m") == 0.25
    assert cpu_cores("2") == 2.0


def test_kubernetes_problems_are_listed_with_the_rest():
    # prod runs each public service with at least 2 replicas (a Kubernetes rule).
    error = problems_for("prod", {
        "kind": "prod", "target": "kubernetes", "images": {"tag": "1.0.0"},
        "promotion": {"fromStack": "org/dockyard/staging"},
        "services": merge({name: {"replicas": 1} for name in PUBLIC}, {SERVICE: {"memory": "lots"}}),
    })
    assert {*(f"services.{name}.replicas" for name in PUBLIC), f"services.{SERVICE}.memory"} <= set(keys(error))
