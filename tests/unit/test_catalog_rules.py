"""The catalog's own rules: a catalog that breaks one is refused on its own (before any stack's
settings are read), naming catalog.yaml, the service and the field as written there.

Each case starts from the project's catalog (testing.harness.CATALOG) and changes one thing in
it, on whichever services it holds: a service added to catalog.yaml is checked the same way.
"""

import pytest
import yaml

from components.config.catalog import CATALOG_FILE, Catalog
from components.config.catalog_file import CatalogError, catalog_path, parse_catalog
from components.config.catalog_rules import catalog_problems
from testing.harness import CATALOG, PROJECT_DIR

NAMES = sorted(spec.name for spec in CATALOG.services)
WITH_PORT = [spec.name for spec in CATALOG.services if spec.port is not None]
# (client, server) talksTo edges whose client has a port, so the server may talk back to it.
REVERSIBLE = [
    (spec.name, server) for spec in CATALOG.services if spec.port is not None for server in spec.talks_to
]


def changed(name: str, **update) -> Catalog:
    """The project's catalog with one service's fields replaced (as the loader's models hold them)."""
    specs = tuple(spec.model_copy(update=update) if spec.name == name else spec for spec in CATALOG.services)
    return Catalog(services=specs, secrets=CATALOG.secrets, source=CATALOG.source)


def message(problems) -> str:
    """What the program prints for them."""
    return str(CatalogError(CATALOG.source, problems))


def unknown_service() -> str:
    name = "memcached"
    while name in NAMES:
        name += "-x"
    return name


@pytest.mark.parametrize("port", [0, 65536, 99999])
def test_a_port_outside_range_is_refused(port):
    # A field's own range is checked as the file is read (model_copy skips that), so this
    # case goes through the loader, from the file's YAML.
    service = WITH_PORT[0]
    raw = yaml.safe_load(catalog_path(PROJECT_DIR).read_text())  # the file the program reads
    raw["services"][service]["port"] = port
    with pytest.raises(CatalogError) as caught:
        parse_catalog(raw, CATALOG_FILE)
    assert [problem.key for problem in caught.value.problems] == [f"services.{service}.port"]
    allowed = "must be at least 1" if port < 1 else "must be at most 65535"
    assert f"{CATALOG_FILE}: services.{service}.port = {port}: {allowed}" in str(caught.value)


@pytest.mark.parametrize("service", NAMES)
def test_talking_to_a_missing_service_is_refused(service):
    spec, missing = CATALOG.by_name()[service], unknown_service()
    problems = catalog_problems(changed(service, talks_to=(*spec.talks_to, missing)))
    assert [problem.key for problem in problems] == [f"services.{service}.talksTo.{len(spec.talks_to)}"]
    text = message(problems)
    assert f"{CATALOG_FILE}: services.{service}.talksTo.{len(spec.talks_to)} = '{missing}'" in text
    assert f"must name another service: {', '.join(name for name in NAMES if name != service)}" in text


@pytest.mark.parametrize(("client", "server"), REVERSIBLE)
def test_a_dependency_cycle_is_refused(client, server):
    talks_to = CATALOG.by_name()[server].talks_to
    problems = catalog_problems(changed(server, talks_to=(*talks_to, client)))
    assert [problem.key for problem in problems] == ["services"]
    text = message(problems)
    assert "must not form a cycle" in text and client in problems[0].value and server in problems[0].value


# --- through the loader: each class of mistake a catalog author can make -------------------------
#
# These write the edited catalog to a file and read it with load_catalog, as the program does.

from components.config.templates import PLACEHOLDER_FORMS  # noqa: E402
from components.core.names import (  # noqa: E402
    PROGRAM_OBJECTS,
    SECRET_DIR,
    SERVICE_POLICY_PREFIX,
    kubernetes_object_names,
    secret_file_env,
)
from components.plan.resolve import resolve  # noqa: E402
from components.plan.validate import validate  # noqa: E402
from testing.harness import stack_config  # noqa: E402
from tests.unit.catalog_files import (  # noqa: E402
    RAW,
    edited,
    loaded,
    new_name,
    peers_with_port,
    problems_at,
    refusal,
    service,
    upstream_service,
)


def with_env(name: str, **env: str) -> dict:
    return edited(lambda raw: raw["services"][name].setdefault("env", {}).update(env))


# Placeholders: one grammar. Anything that looks like one and does not parse is refused with
# the text and the allowed forms; a value that does not look like one runs as written.
MALFORMED = {
    "space after the colon": "{host: %s}",
    "spaces around": "{ host:%s }",
    "upper-case kind": "{HOST:%s}",
    "unclosed": "http://{host:%s",
    "unknown kind": "{hots:%s}",
    "empty name": "{port:}",
    "underscore for a hyphen": "{secret:%s}",
    "upper-case name": "{host:%s}",
}


@pytest.mark.parametrize("form", list(MALFORMED))
def test_a_malformed_placeholder_is_refused_with_the_text_and_the_allowed_forms(tmp_path, form):
    client = service(talking=True)
    peer = peers_with_port(client)[0]
    name = {"underscore for a hyphen": "some_secret", "upper-case name": peer.upper()}.get(form, peer)
    value = MALFORMED[form] % name if "%s" in MALFORMED[form] else MALFORMED[form]
    (why,) = problems_at(refusal(tmp_path, with_env(client, EXTRA=value)), f"services.{client}.env.EXTRA")
    assert "is not a placeholder" in why and f"write {PLACEHOLDER_FORMS} exactly" in why


def test_a_malformed_placeholder_in_a_secret_template_is_refused(tmp_path):
    secret = new_name("extra")
    raw = edited(lambda raw: raw.setdefault("secrets", {}).update({secret: {"template": "{Secret:x}"}}))
    (why,) = problems_at(refusal(tmp_path, raw), f"secrets.{secret}.template")
    assert "{Secret:x} is not a placeholder (kinds are written in lower case)" in why


@pytest.mark.parametrize("value", ['{"level": "info"}', "${HOME:-/tmp}", "{{.Name}}", "a}b{c", "{}"])
def test_text_that_does_not_look_like_a_placeholder_runs_as_written(tmp_path, value):
    client = service(talking=True)
    catalog = loaded(tmp_path, with_env(client, EXTRA=value))
    stack = resolve(catalog, validate("dev", stack_config("dev"), set(), PROJECT_DIR, catalog))
    assert stack.services[client].plain_env["EXTRA"] == value


# Build contexts: a directory inside the project, nothing else.


@pytest.mark.parametrize("context", ["/etc", "../elsewhere", "apps/../..", "apps/./x", "~/src", "apps\\x", "apps/", ""])
def test_a_build_context_outside_the_project_or_not_written_once_is_refused(tmp_path, context):
    built = service(built=True)
    raw = edited(lambda raw: raw["services"][built]["build"].update(context=context))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{built}.build.context")
    assert "inside the project" in why


def test_a_source_dir_that_leaves_its_context_is_refused(tmp_path):
    built = service(built=True)
    raw = edited(lambda raw: raw["services"][built]["build"].update(sourceDir="../other"))
    assert problems_at(refusal(tmp_path, raw), f"services.{built}.build.sourceDir")


# Names the program derives: refused when they collide, naming both origins.


@pytest.mark.parametrize("name", ["dns", "default-deny", "deny", "dns-egress", "egress"])
def test_no_service_name_meets_the_programs_own_network_policies(tmp_path, name):
    # The program's own NetworkPolicies do not start with "allow-", every service's does: a
    # service named dns (refused while the DNS policy was allow-dns) is just a service.
    assert not any(policy.startswith(SERVICE_POLICY_PREFIX) for kind, policy in PROGRAM_OBJECTS if kind == "NetworkPolicy")
    catalog = loaded(tmp_path, edited(lambda raw: raw["services"].update({name: upstream_service()})))
    policies = [policy for kind, policy in kubernetes_object_names(name) if kind == "NetworkPolicy"]
    assert name in catalog.by_name() and policies == [f"allow-{name}"]
    assert ("NetworkPolicy", f"allow-{name}") not in PROGRAM_OBJECTS


@pytest.mark.parametrize(("paths", "index", "words"), [
    (["/tmp", "/tmp"], 1, "is already mounted by writablePaths.0"),
    (["/var/cache-x", "/var/cache/x"], 1, "its pod volume would be named writable-var-cache-x, as /var/cache-x's is"),
    (["/tmp", SECRET_DIR], 1, "the secret"),  # mounted there already, or reserved for them
    (["/tmp", f"{SECRET_DIR}/x"], 1, f"is inside {SECRET_DIR}, where the program mounts the secrets"),
])
def test_writable_paths_that_collide_are_refused(tmp_path, paths, index, words):
    name = service()
    error = refusal(tmp_path, edited(lambda raw: raw["services"][name].update(writablePaths=paths)))
    assert any(words in why for why in problems_at(error, f"services.{name}.writablePaths.{index}"))


@pytest.mark.parametrize("below", ["", "/x"])
def test_a_writable_path_at_or_under_the_state_path_is_refused(tmp_path, below):
    name = service(stateful=True)
    state = RAW["services"][name]["state"]["path"]
    error = refusal(tmp_path, edited(lambda raw: raw["services"][name].update(writablePaths=[f"{state}{below}"])))
    (why,) = problems_at(error, f"services.{name}.writablePaths.0")
    assert why.startswith(f"is {'already mounted by state.path' if not below else 'inside state.path'}")


def test_a_plain_variable_the_program_derives_from_a_secret_is_refused(tmp_path):
    name = next((n for n, body in RAW["services"].items() if any("{secret:" in str(v) for v in (body.get("env") or {}).values())), None)
    if name is None:
        pytest.skip("no service uses a secret")
    secret_var = next(k for k, v in RAW["services"][name]["env"].items() if "{secret:" in str(v))
    derived = secret_file_env(secret_var)
    (why,) = problems_at(refusal(tmp_path, with_env(name, **{derived: "/elsewhere"})), f"services.{name}.env.{derived}")
    assert f"the program sets {derived} itself" in why


# What the cluster (or the kubelet) would refuse later is refused now.


@pytest.mark.parametrize(("user", "words"), [
    ("0", "must not be 0"), ("0:0", "must not be 0"), ("1000:0", "must not be 0"),
    ("2147483648", "at most 2147483647"), ("01000", "without leading zeros"), ("root", "in numbers"),
])
def test_a_user_the_non_root_rule_or_the_api_refuses_is_refused(tmp_path, user, words):
    name = service()
    (why,) = problems_at(refusal(tmp_path, edited(lambda raw: raw["services"][name].update(user=user))), f"services.{name}.user")
    assert words in why


@pytest.mark.parametrize("fs_group", [0, -1, 2**31])
def test_an_fs_group_outside_1_to_int32_is_refused(tmp_path, fs_group):
    name = service()
    assert problems_at(refusal(tmp_path, edited(lambda raw: raw["services"][name].update(fsGroup=fs_group))), f"services.{name}.fsGroup")


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_opt_out_without_a_reason_is_refused(tmp_path, reason):
    name = service()
    raw = edited(lambda raw: raw["services"][name].update(optOuts={"read-only-root": reason}))
    (why,) = problems_at(refusal(tmp_path, raw), f"services.{name}.optOuts.read-only-root")
    assert why.startswith("must say why")


@pytest.mark.parametrize("path", ["healthz", "/a b"])
def test_a_probe_path_that_is_not_a_url_path_is_refused(tmp_path, path):
    name = service(port=True)
    raw = edited(lambda raw: raw["services"][name].setdefault("health", {"readiness": {"command": ["x"]}}).update(liveness={"path": path}))
    assert problems_at(refusal(tmp_path, raw), f"services.{name}.health.liveness.path")


@pytest.mark.parametrize("path", ["/", "/data/", "/a//b", "/a/../b", "/a:b", "data"])
def test_a_container_path_not_written_once_or_with_a_colon_is_refused(tmp_path, path):
    name = service()
    raw = edited(lambda raw: raw["services"][name].update(writablePaths=[path]))
    assert problems_at(refusal(tmp_path, raw), f"services.{name}.writablePaths.0")


def test_env_larger_than_one_kubernetes_object_is_refused(tmp_path):
    name = service()
    raw = with_env(name, **{f"BIG_{n}": "x" * 30_000 for n in range(40)})
    assert "fit in one Kubernetes ConfigMap or Secret" in problems_at(refusal(tmp_path, raw), f"services.{name}.env")[0]
