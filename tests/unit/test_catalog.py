"""catalog.yaml: read by the typed models, refused as a whole with every problem named by
file, service and field as written there; its JSON Schema kept in sync; the graph helpers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.config.catalog import CATALOG_FILE, start_order
from components.config.catalog_file import (
    SCHEMA_FILE,
    CatalogError,
    catalog_path,
    load_catalog,
    parse_catalog,
    schema_text,
)
from components.config.catalog_rules import catalog_problems
from components.config.templates import placeholders, render_template
from testing.harness import CATALOG, PROJECT_DIR, talks_to_edges

RAW = yaml.safe_load(catalog_path(PROJECT_DIR).read_text())  # the file the program reads


def edited(edit) -> dict:
    """A copy of the project's catalog file with `edit(raw)` applied."""
    raw = copy.deepcopy(RAW)
    edit(raw)
    return raw


def refusal(raw: dict) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(raw, "catalog.yaml")
    return caught.value


def first_service(raw: dict, built: bool | None = None) -> str:
    """A service of the file: any, or the first that is (or is not) built."""
    for name, body in raw["services"].items():
        if built is None or ("build" in body) == built:
            return name
    pytest.skip("the catalog has no such service")


def service_with_port(raw: dict, *, talking: bool) -> str:
    """A service with a port that talks to others (talking) or one with a port at all."""
    for name, body in raw["services"].items():
        if "port" in body and (body.get("talksTo") or not talking):
            return name
    pytest.skip("the catalog has no such service")


# --- the file as it is --------------------------------------------------------------------------


def test_the_project_catalog_loads_and_is_valid():
    catalog = load_catalog(catalog_path(PROJECT_DIR))
    assert [spec.name for spec in catalog.services] == list(RAW["services"])
    assert catalog_problems(catalog) == []


def test_the_checked_in_schema_is_generated_from_the_models():
    checked_in = (PROJECT_DIR / SCHEMA_FILE).read_text()
    assert checked_in == schema_text(), f"regenerate: make schema (writes {SCHEMA_FILE})"


def test_the_schema_accepts_the_catalog_and_refuses_an_unknown_key():
    # The file as written, comments and all, is what an editor checks against the schema.
    schema = json.loads((PROJECT_DIR / SCHEMA_FILE).read_text())
    jsonschema.validate(RAW, schema)
    name = first_service(RAW)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(edited(lambda raw: raw["services"][name].update(talksTO=[])), schema)


def test_the_file_tells_editors_where_its_schema_is():
    assert f"$schema=./{SCHEMA_FILE}" in (PROJECT_DIR / CATALOG_FILE).read_text().splitlines()[0]


# --- refusals: file, service, field, every problem at once --------------------------------------


def test_an_unknown_key_names_the_file_the_service_and_the_key_as_written():
    name = first_service(RAW)
    error = refusal(edited(lambda raw: raw["services"][name].update(talksTO=["x"])))
    assert f"catalog.yaml: services.{name}.talksTO: unknown key" in str(error)


def test_every_problem_is_reported_at_once():
    built, upstream = first_service(RAW, built=True), first_service(RAW, built=False)

    def edit(raw):
        raw["services"][built]["port"] = "8000"
        raw["services"][upstream]["resources"]["memory"] = "lots"
        raw["services"][upstream]["healthcheck"] = {}

    keys = {problem.key for problem in refusal(edited(edit)).problems}
    assert {f"services.{built}.port", f"services.{upstream}.resources.memory", f"services.{upstream}.healthcheck"} <= keys


@pytest.mark.parametrize("port", ["8000", 80.5, True, 0, 70000])
def test_a_port_that_is_not_a_whole_number_from_1_to_65535_is_refused(port):
    name = service_with_port(RAW, talking=False)
    problems = refusal(edited(lambda raw: raw["services"][name].update(port=port))).problems
    assert [p.key for p in problems] == [f"services.{name}.port"]


def test_a_host_template_for_a_service_not_in_talks_to_is_refused():
    client = service_with_port(RAW, talking=True)
    talks_to = set(RAW["services"][client].get("talksTo", []))
    stranger = next((n for n, b in RAW["services"].items() if "port" in b and n != client and n not in talks_to), None)
    if stranger is None:
        pytest.skip("every service with a port is already a peer")
    error = refusal(edited(lambda raw: raw["services"][client]["env"].update(EXTRA=f"http://{{host:{stranger}}}")))
    assert f"services.{client}.env.EXTRA" in str(error)
    assert "not in talksTo" in str(error)


def test_a_service_named_twice_in_talks_to_is_refused():
    client = service_with_port(RAW, talking=True)
    peer = RAW["services"][client]["talksTo"][0]
    error = refusal(edited(lambda raw: raw["services"][client]["talksTo"].append(peer)))
    assert f"services.{client}.talksTo.{len(RAW['services'][client]['talksTo'])} = {peer!r}: is already in talksTo" in str(error)


def test_talking_to_a_service_without_a_port_is_refused():
    portless = next((n for n, b in RAW["services"].items() if "port" not in b), None)
    client = service_with_port(RAW, talking=True)
    if portless is None:
        pytest.skip("every service has a port")
    error = refusal(edited(lambda raw: raw["services"][client]["talksTo"].append(portless)))
    assert f"{portless} has no port" in str(error)


def test_an_unknown_secret_is_refused_before_any_resource():
    name = first_service(RAW)
    error = refusal(edited(lambda raw: raw["services"][name].setdefault("env", {}).update(TOKEN="{secret:nope}")))
    assert f"services.{name}.env.TOKEN" in str(error)
    assert "{secret:nope} names no secret" in str(error)


def test_a_secret_owned_by_no_service_and_one_with_no_source_are_refused():
    def edit(raw):
        raw["secrets"]["orphan"] = {"owner": "nobody", "generate": {"length": 32}}
        raw["secrets"]["empty"] = {}

    keys = {problem.key for problem in refusal(edited(edit)).problems}
    assert {"secrets.orphan.owner", "secrets.empty"} <= keys


def test_a_secret_config_key_that_is_a_program_setting_is_refused():
    error = refusal(edited(lambda raw: raw["secrets"].update(x={"config": "images"})))
    assert "secrets.x.config" in str(error)


def test_two_image_sources_are_refused():
    name = first_service(RAW, built=False)
    error = refusal(edited(lambda raw: raw["services"][name].update(imageOf=name)))
    assert f"services.{name}: needs exactly one of image" in str(error)


def test_a_dependency_cycle_is_refused():
    first, second = list(RAW["services"])[:2]

    def edit(raw):
        raw["services"][first]["startsAfter"] = []
        for a, b in ((first, second), (second, first)):
            raw["services"][a]["talksTo"] = [b]
            raw["services"][b].setdefault("port", 1234)

    assert "must not form a cycle" in str(refusal(edited(edit)))


def test_a_file_that_is_not_yaml_or_unreadable_is_named(tmp_path: Path):
    broken = tmp_path / "catalog.yaml"
    broken.write_text("services: [\n")
    with pytest.raises(CatalogError, match="catalog.yaml: \\(file\\): is not valid YAML"):
        load_catalog(broken)
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(tmp_path / "missing.yaml")


def test_a_catalog_error_is_a_run_error_so_pulumi_prints_no_traceback():
    from pulumi.errors import RunError

    assert issubclass(CatalogError, RunError)


# --- the graph helpers ---------------------------------------------------------------------------


def test_start_order_puts_dependencies_first():
    order = start_order(CATALOG.services)
    assert sorted(order) == sorted(spec.name for spec in CATALOG.services)
    for spec in CATALOG.services:
        for dependency in spec.depends_on:
            assert order.index(dependency) < order.index(spec.name), (dependency, spec.name)


def test_edges_are_exactly_the_declared_talks_to():
    declared = {(name, peer) for name, body in RAW["services"].items() for peer in body.get("talksTo", [])}
    assert talks_to_edges(CATALOG.services) == declared


def test_templates_render_hosts_and_ports_and_leave_secrets():
    rendered = render_template("redis://{host:redis}:{port:redis}/0 {secret:x}", {"redis": "cache"}, {"redis": 6379})
    assert rendered == "redis://cache:6379/0 {secret:x}"
    assert placeholders("{host:a}{port:b}{secret:c}") == [("host", "a"), ("port", "b"), ("secret", "c")]


def test_secret_env_is_marked_by_template():
    for spec in CATALOG.services:
        for name, value in spec.env.items():
            assert (name in spec.secret_env_names()) == ("{secret:" in value), (spec.name, name)
            assert (name in spec.plain_env_names()) != (name in spec.secret_env_names())


def test_weaker_defaults_are_named_opt_outs():
    for spec in CATALOG.services:
        if spec.user != "1000:1000":
            assert spec.opt_outs.get("upstream-uid"), spec.name


def test_upstream_images_are_pinned_by_tag():
    for spec in CATALOG.services:
        if spec.image:
            name, _, tag = spec.image.rpartition(":")
            assert name and tag and tag != "latest" and any(ch.isdigit() for ch in tag), spec.image
