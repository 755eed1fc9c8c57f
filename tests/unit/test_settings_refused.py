"""Every class of wrong setting is refused before any resource exists, through the real loader,
with the stack, the key as written, the bad value and what is allowed; no secret is ever shown
and no input ends in a Python exception.

Each case starts from the stack's own file (Pulumi.<stack>.yaml) and changes one thing.
"""

from __future__ import annotations

import itertools

import pytest

from components.config.settings import SettingsError
from components.core.problems import shown
from components.plan.validate import validate
from testing.harness import PROJECT_DIR, merge, outside_inputs, run_program, stack_config

STACKS = ("dev", "staging", "prod")
TEST_CA = PROJECT_DIR / "tests" / "unit" / "data" / "test-ca.pem"
INTERNALS = ("Input should", "instance of", "Value error", "pydantic", "Traceback", "ImageSettings", "ServiceSettings")


def secrets_of(stack: str) -> set[str]:
    """The secrets an operator sets for the stack (prod's external database)."""
    return set(outside_inputs(stack).get("secrets", {}))


def refused(stack: str, overrides: dict, *, raw: dict | None = None, secrets: set[str] | None = None) -> SettingsError:
    config = raw if raw is not None else merge(stack_config(stack), overrides)
    with pytest.raises(SettingsError) as caught:
        validate(stack, config, secrets_of(stack) if secrets is None else secrets, PROJECT_DIR)
    message = str(caught.value)
    assert f"stack '{stack}'" in message
    assert not [word for word in INTERNALS if word in message], message
    return caught.value


def only_problem(error: SettingsError, key: str):
    assert [p.key for p in error.problems] == [key], str(error)
    return error.problems[0]


def line_of(error: SettingsError, key: str) -> str:
    return next(line for line in str(error).splitlines() if f"dockyard:{key}" in line)


def _nested(key: str, value) -> dict:
    """`a.b.c`, v -> {"a": {"b": {"c": v}}}: a stack-file override for one dotted key."""
    override = value
    for part in reversed(key.split(".")):
        override = {part: override}
    return override


def assert_refused(stack: str, overrides: dict, key: str, value, allowed: str) -> str:
    """One problem, on `key`, showing the value and what is allowed; returns its line."""
    error = refused(stack, overrides)
    only_problem(error, key)
    line = line_of(error, key)
    assert f"= {shown(value)}:" in line, line
    assert allowed in line, line
    return line


# --- the reference stacks pass ------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_files_are_valid(stack):
    settings = validate(stack, stack_config(stack), secrets_of(stack), PROJECT_DIR)
    assert settings.kind.value == stack


# --- image references and registries ---------------------------------------------------------


@pytest.mark.parametrize(("stack", "key", "value", "allowed"), [
    ("staging", "images.registry", "https://registry.example.com/dockyard", "no scheme"),
    ("staging", "images.registry", "registry.example.com/Dockyard", "lower case"),
    ("staging", "images.registry", "registry.example.com/dockyard/", "no trailing '/'"),
    ("staging", "images.registry", "dockyard", "must start with the registry host"),
    ("staging", "images.registry", "registry.example.com/dockyard:1.0", "no tag or digest"),
    ("dev", "images.baseImages.backend", "Mirror.local/Python:3.13-slim", "lower case"),
    ("dev", "images.baseImages.frontend", "node", "pin it with a tag or a digest"),
    ("dev", "images.baseImages.backend", "https://mirror.local/python:3.13", "no scheme"),
    ("staging", "services.postgres.image", "postgres:17.6@sha256:abc", "[registry-host[:port]/]path[:tag][@sha256:<64 hex>]"),
    ("staging", "services.postgres.image", "postgres@sha256:" + "a" * 40, "sha256:<64 hex>"),
    ("prod", "services.redis.image", "Redis:7.4.5", "lower case"),
    ("dev", "services.redis.image", "redis:7.4.5 ", "no spaces"),
])
def test_malformed_image_references_are_refused(stack, key, value, allowed):
    assert_refused(stack, _nested(key, value), key, value, allowed)


def test_well_formed_references_pass():
    validate("dev", merge(stack_config("dev"), {
        "images": {"registry": "localhost:5000", "baseImages": {"backend": "mirror.local:5000/library/python:3.13-slim"}},
        "services": {"postgres": {"image": "mirror.local/postgres@sha256:" + "f" * 64}},
    }), set(), PROJECT_DIR)


# --- names Kubernetes would refuse -----------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("kubernetes.ingress.host", "Staging.Dockyard.example.com", "lower-case DNS name"),
    ("kubernetes.ingress.host", "https://staging.dockyard.example.com", "without scheme, port, path or IP address"),
    ("kubernetes.ingress.host", "10.1.2.3", "IP address"),
    ("kubernetes.ingress.tlsSecret", "Dockyard_TLS", "RFC 1123 subdomain"),
    ("kubernetes.ingress.className", "NGINX", "RFC 1123 subdomain"),
    ("kubernetes.storageClass", "fast ssd", "RFC 1123 subdomain"),
    ("kubernetes.namespace", "Dockyard", "DNS label"),
])
def test_names_kubernetes_refuses_are_refused(key, value, allowed):
    assert_refused("staging", _nested(key, value), key, value, allowed)


def test_wildcard_ingress_host_passes():
    validate("staging", merge(stack_config("staging"), {"kubernetes": {"ingress": {"host": "*.dockyard.example.com"}}}), set(), PROJECT_DIR)


# --- promotion.fromStack ---------------------------------------------------------------------


def test_promotion_source_must_be_fully_qualified():
    line = assert_refused("prod", {"promotion": {"fromStack": "staging"}}, "promotion.fromStack", "staging", "<organization>/<project>/<stack>")
    assert "organization/dockyard/staging" in line


def test_promotion_source_must_not_be_the_promoting_stack():
    assert_refused("prod", {"promotion": {"fromStack": "organization/dockyard/prod"}},
                   "promotion.fromStack", "organization/dockyard/prod", "names this stack itself")


def test_promotion_is_refused_outside_prod():
    assert_refused("staging", {"promotion": {"fromStack": "organization/dockyard/dev"}},
                   "promotion.fromStack", "organization/dockyard/dev", "only prod promotes")


# --- host ports --------------------------------------------------------------------------------


def test_two_services_on_one_host_port_are_refused():
    line = assert_refused("dev", {"services": {"frontend": {"hostPort": 8000}}}, "services.frontend.hostPort", 8000, "already published by backend")
    assert "1-65535" in line


def test_a_published_database_clashing_with_a_service_is_refused():
    assert_refused("dev", {"dev": {"publishDatabases": True}, "services": {"backend": {"hostPort": 6379}}},
                   "services.backend.hostPort", 6379, "already published by redis")


def test_host_port_of_an_unpublished_service_is_refused():
    assert_refused("dev", {"services": {"postgres": {"hostPort": 15432}}},
                   "services.postgres.hostPort", 15432, "only with dev.publishDatabases: true")


def test_published_databases_on_their_own_ports_pass():
    validate("dev", merge(stack_config("dev"), {"dev": {"publishDatabases": True}, "services": {"postgres": {"hostPort": 15432}}}), set(), PROJECT_DIR)


def test_host_port_on_a_kubernetes_stack_is_refused():
    assert_refused("staging", {"services": {"frontend": {"hostPort": 3000}}}, "services.frontend.hostPort", 3000, "only the docker target")


# --- YAML types --------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("services.backend.replicas", True, "must be a whole number, not true/false"),
    ("services.frontend.hostPort", True, "must be a whole number, not true/false"),
    ("services.backend.replicas", "two", "must be a whole number"),
    ("services.backend.enabled", 1, "must be true or false"),
    ("images.push", "yes", "must be true or false"),
])
def test_a_value_of_the_wrong_type_is_refused(key, value, allowed):
    assert_refused("dev", _nested(key, value), key, value, allowed)


@pytest.mark.parametrize("tag", [1.0, 2, 1.1])
def test_a_tag_yaml_read_as_a_number_says_to_quote_it(tag):
    line = assert_refused("staging", {"images": {"tag": tag}}, "images.tag", tag, "quote it")
    assert f'"{tag}"' in line


def test_numbers_that_are_quantities_or_flags_as_text_pass():
    settings = validate("dev", merge(stack_config("dev"), {
        "services": {"backend": {"cpu": 1, "memory": "1Gi", "replicas": "1"}}, "images": {"push": "false"},
    }), set(), PROJECT_DIR)
    assert settings.service("backend").cpu == "1" and settings.images.push is False


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("services.backend.hostPort", 70000, "from 1 to 65535"),
    ("services.backend.replicas", 0, "at least 1"),
    ("images.platforms", ["linux/s390x"], "linux/amd64, linux/arm64"),
    ("images.platforms", [], "at least one platform"),
])
def test_ranges_and_choices_are_named(key, value, allowed):
    assert_refused("dev", _nested(key, value), key, value, allowed)


# --- images.caBundle -----------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "allowed"), [
    ("not a certificate\n", "PEM file of CA certificates"),
    ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "does not parse"),
    ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", "holds PRIVATE KEY"),
    (b"\xff\xfe binary", "PEM file of CA certificates"),
])
def test_a_ca_bundle_that_is_not_pem_certificates_is_refused(tmp_path, content, allowed):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert_refused("dev", {"images": {"caBundle": str(bundle)}}, "images.caBundle", str(bundle), allowed)


def test_a_directory_as_ca_bundle_is_refused(tmp_path):
    assert_refused("dev", {"images": {"caBundle": str(tmp_path)}}, "images.caBundle", str(tmp_path), "readable PEM file")


def test_a_real_ca_bundle_passes():
    settings = validate("dev", merge(stack_config("dev"), {"images": {"caBundle": "tests/unit/data/test-ca.pem"}}), set(), PROJECT_DIR)
    assert settings.images.ca_bundle == "tests/unit/data/test-ca.pem"


# --- kind, and settings that belong to another stack -----------------------------------------------


def test_a_kind_that_contradicts_the_stack_name_is_refused():
    line = assert_refused("dev", {"kind": "prod"}, "kind", "prod", "the stack named 'dev' is of kind dev")
    assert "prod-eu" in line


def test_a_stack_not_named_after_a_kind_must_say_its_kind():
    raw = {k: v for k, v in stack_config("dev").items() if k != "kind"}
    error = refused("laptop-alice", {}, raw=raw, secrets=set())
    only_problem(error, "kind")
    assert "set dockyard:kind to one of dev, staging, prod" in str(error)
    assert validate("laptop-alice", stack_config("dev"), set(), PROJECT_DIR).kind.value == "dev"


def test_kubernetes_enabled_outside_dev_is_refused():
    assert_refused("staging", {"kubernetes": {"enabled": True}}, "kubernetes.enabled", True, "only the dev stack uses kubernetes.enabled")


def test_image_settings_on_prod_are_refused():
    assert_refused("prod", {"images": {"tag": "1.2.3"}}, "images.tag", "1.2.3", "prod builds nothing")


def test_staging_with_nothing_configured_would_deploy_images_it_never_pushed():
    error = refused("staging", {}, raw={})
    # (With several public services the catalog's, kubernetes.ingress.service is asked for too.)
    assert [p.key for p in error.problems if p.key.startswith("images.")] == ["images.registry", "images.push"]
    assert "staging deploys its images from a registry" in str(error)
    assert "must push them: set images.push to true" in str(error)


# --- secrets in plain text --------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "key", "value"), [
    ("prod", "databaseUrl", "postgresql+psycopg://todo:hunter2@db.example.com:5432/todo"),
    ("staging", "registryPassword", "hunter2-token"),
])
def test_a_secret_in_plain_text_is_refused_without_showing_it(stack, key, value):
    raw = merge(stack_config(stack), {key: value})
    error = refused(stack, {}, raw=raw)
    only_problem(error, key)
    assert f"pulumi config set --secret {key}" in str(error)
    assert "hunter2" not in str(error)


def test_the_program_refuses_a_plain_text_secret_and_accepts_the_same_value_as_a_secret():
    url = "postgresql+psycopg://todo:hunter2@db.example.com:5432/todo"
    inputs = outside_inputs("prod")
    with pytest.raises(SettingsError, match="pulumi config set --secret databaseUrl") as caught:
        run_program("prod", {"databaseUrl": url}, stack_outputs=inputs["stack_outputs"])
    assert "hunter2" not in str(caught.value)
    run_program("prod", secrets={"databaseUrl": url}, stack_outputs=inputs["stack_outputs"])


def test_credentials_in_a_shown_value_are_masked():
    error = refused("staging", {"images": {"registry": "https://ci:t0ken@registry.example.com/team"}})
    assert "t0ken" not in str(error) and "***@registry.example.com" in str(error)


def test_a_misspelt_key_does_not_show_its_value():
    error = refused("staging", {"registryPasword": "hunter2"})
    only_problem(error, "registryPasword")
    assert "hunter2" not in str(error) and "known:" in str(error)


# --- never a traceback -------------------------------------------------------------------------------


def test_prod_on_the_docker_target_is_refused_not_a_crash():
    inputs = outside_inputs("prod")
    with pytest.raises(SettingsError, match="target = 'docker': prod builds no images"):
        run_program("prod", {"target": "docker"}, **inputs)


WRONG_VALUES = (None, True, 0, -1, 1.5, "", " ", "x" * 300, "Bad Value", [], ["x"], {}, {"x": 1})
KEYS = (
    "kind", "target", "images", "images.registry", "images.tag", "images.push", "images.platforms",
    "images.builder", "images.caBundle", "images.baseImages", "images.baseImages.backend", "images.sourceUrl",
    "services", "services.backend", "services.postgres.enabled", "services.redis.image", "services.backend.replicas",
    "services.frontend.memory", "services.frontend.cpu", "services.frontend.hostPort", "dev", "dev.hotReload",
    "kubernetes", "kubernetes.enabled", "kubernetes.namespace", "kubernetes.ingress", "kubernetes.ingress.host",
    "kubernetes.ingress.service", "kubernetes.externalDatabaseCidr", "promotion", "promotion.fromStack",
)


def _set(config: dict, key: str, value) -> dict:
    return merge(config, _nested(key, value))


@pytest.mark.parametrize("stack", STACKS)
def test_no_wrong_value_anywhere_ends_in_an_exception_or_shows_internals(stack):
    for key, value in itertools.product(KEYS, WRONG_VALUES):
        config = _set(stack_config(stack), key, value)
        try:
            validate(stack, config, secrets_of(stack), PROJECT_DIR)
        except SettingsError as error:
            message = str(error)
            assert not [word for word in INTERNALS if word in message], (key, value, message)
            assert all(problem.key for problem in error.problems)


# --- every problem at once --------------------------------------------------------------------------


def test_a_bad_section_hides_no_later_problem():
    error = refused("staging", {
        "kubernetes": {"externalDatabaseCidr": "10.0.0.1/8", "ingress": {"host": "Bad_Host", "service": "postgres"}},
        "services": {"backend": {"replicas": True, "memory": "lots"}, "frontend": {"hostPort": 3000}},
        "images": {"tag": 1.0},
    })
    assert {p.key for p in error.problems} == {
        "kubernetes.externalDatabaseCidr", "kubernetes.ingress.host", "kubernetes.ingress.service",
        "services.backend.replicas", "services.backend.memory", "services.frontend.hostPort", "images.tag",
    }


def test_a_bad_value_in_one_service_makes_no_false_second_problem():
    error = refused("prod", {"services": {"backend": {"memory": "lots"}}})
    assert [p.key for p in error.problems] == ["services.backend.memory"]
    error = refused("prod", {"services": {"frontend": {"replicas": True}}})
    assert [p.key for p in error.problems] == ["services.frontend.replicas"]


# --- found by the sweep above -------------------------------------------------------------------


@pytest.mark.parametrize("value", [[], "", 0])
def test_services_that_is_not_a_map_is_refused(value):
    assert_refused("dev", {"services": value}, "services", value, "must be a map of service name to settings")


def test_an_empty_ingress_host_is_refused():
    assert_refused("staging", {"kubernetes": {"ingress": {"host": ""}}}, "kubernetes.ingress.host", "", "needs a host")


def test_a_builder_name_buildx_refuses_is_refused():
    assert_refused("staging", {"images": {"builder": "my builder"}}, "images.builder", "my builder", "buildx builder name")


def test_an_external_database_beside_the_in_cluster_one_is_refused():
    pinned = {"enabled": True, "image": "postgres:17.6-bookworm@sha256:" + "a" * 64}  # prod deploys digests only
    line = assert_refused("prod", {"services": {"postgres": pinned}}, "services.postgres.enabled", True, "would run unused")
    assert "pulumi config rm databaseUrl" in line


def test_values_are_spelt_as_in_the_stack_file():
    error = refused("dev", {"services": {"backend": {"replicas": True}}})
    assert "dockyard:services.backend.replicas = true: must be a whole number" in str(error)


# --- one spelling: keys are camelCase, as the docs and every stack file write them ---------------

from components.config.settings import (  # noqa: E402
    DevSettings,
    ImageSettings,
    IngressSettings,
    KubernetesSettings,
    PromotionSettings,
    ServiceSettings,
)

SECTIONS = {
    "images": ImageSettings, "dev": DevSettings, "kubernetes": KubernetesSettings,
    "kubernetes.ingress": IngressSettings, "promotion": PromotionSettings, "services.backend": ServiceSettings,
}  # fmt: skip
SNAKE_KEYS = [
    (section, name, field.alias)
    for section, model in SECTIONS.items()
    for name, field in model.model_fields.items()
    if field.alias and field.alias != name
]


def nested(dotted: str, value: object) -> dict:
    *parents, last = dotted.split(".")
    result: dict = {last: value}
    for part in reversed(parents):
        result = {part: result}
    return result


@pytest.mark.parametrize(("section", "snake", "camel"), SNAKE_KEYS, ids=[f"{s}.{n}" for s, n, _ in SNAKE_KEYS])
def test_a_snake_case_key_is_refused_with_its_camel_case_spelling(section, snake, camel):
    # The models take field names too (for code); the stack file does not: one spelling.
    error = refused("dev", nested(f"{section}.{snake}", "x"))
    (problem,) = [p for p in error.problems if p.key == f"{section}.{snake}"]
    assert problem.allowed == f"unknown key: write {camel} (keys are camelCase, as in docs/configuration.md)"


def test_a_snake_case_secret_key_is_refused_with_its_camel_case_spelling():
    error = refused("staging", {"registry_password": "x"})
    assert [(p.key, p.allowed) for p in error.problems] == [
        ("registry_password", "unknown key: write registryPassword (keys are camelCase)")
    ]
    assert "x" not in [p.value for p in error.problems]
