"""catalog.schema.json and the loader agree: what an editor refuses, the program refuses, and
the other way round. The test walks every model the loader validates entries with, and for
every field tries the same values on both: each JSON type, and for fields with a grammar
(durations, quantities, paths, ids, image references) values on either side of it.

What a pattern cannot say is listed in LOADER_ONLY with the reason; the test fails when
the list and the real differences part, so a field added without a schema rule (or a
schema rule that drifts from the validator) is caught here.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from components.config.catalog import CatalogModel, ServiceSpec
from components.config.catalog_fields import MAX_ID, MAX_TEXT, MEMORY_FLOOR_BYTES
from components.config.catalog_file import catalog_models, schema_text, validate_entry
from components.core.names import SECRET_DIR

SCHEMA = json.loads(schema_text())
MODELS = {model.__name__: model for model in catalog_models()}
# A minimal valid entry of each model; the probes replace one field of it at a time.
MINIMAL: dict[str, dict[str, Any]] = {
    "ServiceSpec": {"image": "example/app:1.0.0", "resources": {"memory": "64Mi", "cpu": "100m"}},
    "Build": {"context": "apps/x", "baseImage": "python:3.13-slim"},
    "Health": {"readiness": {"command": ["check"]}},
    "Check": {},
    "Resources": {"memory": "64Mi", "cpu": "100m"},
    "State": {"path": "/data"},
    "SecretSpec": {},
    "Generate": {},
    "Debug": {"port": 5678, "command": ["python", "-m", "debugpy"]},
    "Metrics": {},
    "Monitoring": {},
}
# Every field gets these: one value of each JSON type.
GENERIC = ["text", "", 7, 0, -1, 2.5, True, None, [], ["a"], [1], {}, {"a": "b"}]
DIGEST = "sha256:" + "ab" * 32
# Fields with a grammar get values on both sides of it.
GRAMMAR: dict[tuple[str, str], list[Any]] = {
    ("ServiceSpec", "image"): ["postgres:17.6", f"postgres@{DIGEST}", f"r.example.com:5000/a/b:1@{DIGEST}", "postgres",
                               "Postgres:1", "https://r.example.com/a:1", "a:b c", f"a@sha256:{'ab' * 16}", "a:é"],
    ("Build", "baseImage"): ["python:3.13", "python", "python:"],
    ("Build", "runtimeBaseImage"): ["python:3.13", "python"],
    ("Build", "context"): [".", "apps/backend", "a.b/c", "/abs", "..", "../x", "a/../b", "./a", "a/", "~/x", "a\\b", "a:b"],
    ("Build", "sourceDir"): ["src", "src/app", "../src", "/src"],
    ("Build", "sourceMount"): ["/app/src", "app", "/app/", "/a//b", "/a/./b", "/a:b", "/"],
    ("ServiceSpec", "writablePaths"): [["/tmp"], ["/tmp", "/var/x"], ["tmp"], ["/tmp/"], [SECRET_DIR], ["/a\x01"]],
    ("State", "path"): ["/data", "/data/", "data", "/"],
    ("State", "size"): ["1Gi", "512Mi", "1.5G", 2**30, "1 Gi", "lots", "1Ki", 1024, "-1Gi", 1.5],
    ("Resources", "memory"): ["64Mi", "1G", 67108864, MEMORY_FLOOR_BYTES, MEMORY_FLOOR_BYTES - 1, "5Mi", "64MB", 64.5,
                              "1.5Gi", "1.1Gi"],
    ("Resources", "ephemeralStorage"): ["256Mi", "1Gi", 2**28, "5Mi", "lots"],
    ("ServiceSpec", "writableSize"): ["64Mi", "1Gi", 2**26, "5Mi", "64MB"],
    ("Resources", "cpu"): ["250m", "0.5", "2", 1, 0.25, 0.0001, "0", "0m", 0, -1, "0.0001", "1.5m", "half"],
    ("Health", "interval"): ["15s", "250ms", "1m30s", "1.5s", "0s", "15", "15 s", "-1s", "1d", "µs"],
    ("Check", "path"): ["/livez", "/a/b?x=1", "/", "livez", "/a b", ""],
    ("Check", "command"): [["a"], [], ["a\x00"], ["x" * (MAX_TEXT + 1)]],
    ("Health", "client"): [["node", "/app/healthcheck.js"], [], ["a\x00"]],
    ("Health", "readiness"): [{"path": "/readyz"}, {"command": ["a"]}, {"path": "readyz"}, {"other": 1}],
    ("Health", "liveness"): [{"path": "/livez"}, {"command": []}],
    ("Health", "timeout"): ["5s", "5"],
    ("Health", "startPeriod"): ["30s", "30"],
    ("Health", "startInterval"): ["250ms", "250"],
    ("Health", "retries"): [1, 3, 3.0, 0, "3"],
    ("ServiceSpec", "port"): [1, 8000, 8000.0, 65535, 0, 65536, 80.5, "80"],
    ("ServiceSpec", "user"): ["1000", "1000:1000", "999:999", str(MAX_ID), f"1:{MAX_ID}", "0", "0:0", "1000:0",
                              str(MAX_ID + 1), "01000", "root", "1000:", "1999999999"],
    ("ServiceSpec", "fsGroup"): [1, 999, MAX_ID, 0, MAX_ID + 1, 999.0],
    ("ServiceSpec", "env"): [{"A": "x"}, {"A": 30}, {"_A1": ""}, {"A": True}, {"A": 1.5}, {"A": None}, {"1A": "x"},
                             {"A-B": "x"}, {"A": "a\x00b"}, {"A": "x" * (MAX_TEXT + 1)}, {"A": "x" * MAX_TEXT}],
    ("ServiceSpec", "command"): [["a", "b"], [], ["a\x00"]],
    ("ServiceSpec", "optOuts"): [{"upstream-uid": "why"}, {"read-only-root": "why"}, {"upstream-uid": ""},
                                 {"upstream-uid": "  "}, {"other": "why"}, {"upstream-uid": 1}],
    ("SecretSpec", "config"): ["databaseUrl", "DatabaseUrl", "database-url"],
    ("SecretSpec", "template"): ["{secret:a}", "a\x00"],
    ("Generate", "length"): [16, 128, 15, 129, 32.0],
    ("Debug", "port"): [5678, 9229.0, 0, 65536, "5678"],
    ("Debug", "command"): [["a", "b"], [], ["a\x00"]],
    ("Metrics", "path"): ["/metrics", "/a/b?x=1", "metrics", "/a b", ""],
    ("Metrics", "port"): [9100, 0, 65536, "9100"],
    ("Monitoring", "configFile"): ["/etc/prometheus/prometheus.yml", "prometheus.yml", "/etc/p/", "/a:b"],
    ("Monitoring", "scrapeInterval"): ["5s", "1m30s", "250ms", "5", "5 s", "1d"],
}
# Values the program refuses and a JSON Schema pattern cannot: (model, field, value) -> why.
LOADER_ONLY: dict[tuple[str, str, str], str] = {
    ("State", "size", "'1Ki'"): "a pattern cannot compare a quantity with the 6Mi floor",
    ("Resources", "memory", "'5Mi'"): "a pattern cannot compare a quantity with the 6Mi floor",
    ("Resources", "ephemeralStorage", "'5Mi'"): "a pattern cannot compare a quantity with the 6Mi floor",
    ("ServiceSpec", "writableSize", "'5Mi'"): "a pattern cannot compare a quantity with the 6Mi floor",
    ("Resources", "memory", "'1.1Gi'"): "a pattern cannot tell a fraction of a byte (1.1Gi) from a whole number (1.5Gi)",
    ("Resources", "cpu", "0.0001"): "a number's precision (a fraction of a millicore) is not a pattern; multipleOf "
    "is inexact for decimals (0.3 / 0.001 is not whole in binary floating point)",
}


def entry_schema(model: str) -> dict:
    """The schema an entry of `model` is checked against, with the schema's definitions."""
    return {"$defs": SCHEMA["$defs"], **SCHEMA["$defs"][model]}


def schema_accepts(model: str, body: dict) -> bool:
    return jsonschema.Draft202012Validator(entry_schema(model)).is_valid(body)


def loader_accepts(model: str, body: dict) -> bool:
    try:
        validate_entry(MODELS[model], "svc", body)
    except ValidationError:
        return False
    return True


def aliases(model: type[CatalogModel]) -> dict[str, str]:
    """field name -> key in the file (the entry's name is its key, not a field)."""
    return {name: field.alias for name, field in model.model_fields.items() if not (model is ServiceSpec and name == "name")}


def probes(model: str, key: str) -> list[Any]:
    return [*GENERIC, *GRAMMAR.get((model, key), [])]


def test_every_model_has_a_minimal_entry_and_its_schema():
    assert set(MINIMAL) == set(MODELS)
    for name in MODELS:
        assert loader_accepts(name, MINIMAL[name]) and schema_accepts(name, MINIMAL[name]), name


@pytest.mark.parametrize("model", list(MINIMAL))
def test_the_schema_has_exactly_the_fields_under_their_camel_case_keys(model):
    properties = SCHEMA["$defs"][model]["properties"]
    assert set(properties) == set(aliases(MODELS[model]).values())
    required = {field.alias for name, field in MODELS[model].model_fields.items() if field.is_required() and name != "name"}
    assert set(SCHEMA["$defs"][model].get("required", [])) == required


@pytest.mark.parametrize("model", list(MINIMAL))
def test_snake_case_keys_are_refused_by_both(model):
    for name, key in aliases(MODELS[model]).items():
        if name == key:
            continue
        body = {**MINIMAL[model], name: MINIMAL[model].get(key, "x")}
        body.pop(key, None)
        assert not loader_accepts(model, body), (model, name)
        assert not schema_accepts(model, body), (model, name)


def test_every_field_with_a_grammar_is_probed_on_both_sides_of_it():
    # A field whose validator is more than a JSON type (an AfterValidator) needs GRAMMAR probes.
    for model_name, model in MODELS.items():
        for field in model.model_fields.values():
            if any(type(meta).__name__ == "AfterValidator" for meta in field.metadata) or _annotated_validator(field.annotation):
                assert (model_name, field.alias) in GRAMMAR, (model_name, field.alias)


def _annotated_validator(annotation: Any) -> bool:
    for arg in [annotation, *getattr(annotation, "__args__", ())]:
        if any(type(meta).__name__ in ("AfterValidator", "BeforeValidator") for meta in getattr(arg, "__metadata__", ())):
            return True
        if getattr(arg, "__args__", None) and arg is not annotation and _annotated_validator(arg):
            return True
    return False


def test_the_loader_and_the_schema_agree_on_every_field():
    differences: dict[tuple[str, str, str], tuple[bool, bool]] = {}
    for model, minimal in MINIMAL.items():
        for key in aliases(MODELS[model]).values():
            for value in probes(model, key):
                body = {**minimal, key: value}
                loader, schema = loader_accepts(model, body), schema_accepts(model, body)
                if loader != schema:
                    differences[(model, key, repr(value))] = (loader, schema)
    unexplained = {case: verdicts for case, verdicts in differences.items() if case not in LOADER_ONLY}
    assert not unexplained, f"(loader accepts, schema accepts) differ: {unexplained}"
    stale = set(LOADER_ONLY) - set(differences)
    assert not stale, f"LOADER_ONLY lists cases where both agree now: {stale}"
    assert all(differences[case] == (False, True) for case in LOADER_ONLY), "the schema must never be the stricter one"
