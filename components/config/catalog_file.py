"""Reading catalog.yaml: every problem at once (a screenful listed, the rest counted), each
naming the file that was read, the service and the field as written there, in words (the
parser's and the validators' own wording never reaches the user); and the file's JSON
Schema for editors, generated from the models, which the loader agrees with: it validates
by the file's camelCase keys only, as the schema does."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from components.config.catalog import CATALOG_FILE, Catalog, CatalogFile, CatalogModel, SecretSpec, ServiceSpec
from components.config.catalog_fields import NAME_PATTERN, PATTERN_WORDS
from components.config.catalog_rules import catalog_problems
from components.config.field_errors import in_words
from components.config.text_file import TextFileError, read_text
from components.config.yaml_document import FILE_KEY, YamlRefused
from components.config.yaml_document import load as load_yaml
from components.core.gc_pause import collection_paused
from components.core.problems import OMITTED, Problem, Refusal

SCHEMA_FILE = "catalog.schema.json"


def catalog_models() -> list[type[CatalogModel]]:
    """Every model the file's entries are validated by, nested ones included."""
    found: list[type[CatalogModel]] = []
    pending: list[type[CatalogModel]] = [ServiceSpec, SecretSpec]
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            pending += [
                arg for arg in _type_args(field.annotation) if isinstance(arg, type) and issubclass(arg, CatalogModel)
            ]
    return found


def _type_args(annotation: Any) -> list[Any]:
    args = [annotation]
    for arg in getattr(annotation, "__args__", ()):
        args += _type_args(arg)
    return args


_ALIASES = {field.alias for model in catalog_models() for field in model.model_fields.values()}


class CatalogError(Refusal):
    """Every problem in the catalog file, each key prefixed with the file's name."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        super().__init__(f"the service catalog {source} has {len(problems):,} problem(s)", problems, f"{source}: ")


# --- reading the file -----------------------------------------------------------------------


def _loc(parts: Iterable[Any]) -> str:
    return ".".join(str(part) for part in parts if part != "[key]")


# health's keys before liveness and readiness were declared apart (issue 37): what to write now.
RETIRED_HEALTH_KEYS = {
    "command": "health.command is now readiness: {command: [...]} (and a liveness check of the process alone)",
    "livenessPath": "write liveness: {path: ...}",
    "readinessPath": "write readiness: {path: ...} and client: the image's HTTP client Docker runs it with",
}


def _unknown_key(item: ErrorDetails) -> str:
    """An unknown key in words; a field's snake_case name gets its camelCase spelling."""
    written = str(item["loc"][-1])
    if len(item["loc"]) >= 2 and item["loc"][-2] == "health" and written in RETIRED_HEALTH_KEYS:
        return f"unknown key: {RETIRED_HEALTH_KEYS[written]}"
    camel = to_camel(written)
    if camel != written and camel in _ALIASES:
        return f"unknown key: write {camel} (keys are camelCase, as in catalog.schema.json)"
    return "unknown key (check the spelling)"


def _model_problems(prefix: tuple[str | int, ...], error: ValidationError) -> list[Problem]:
    items = error.errors()
    # `base_image` for `baseImage` is one mistake, not an unknown key and a missing one.
    renamed = {
        (*item["loc"][:-1], to_camel(str(item["loc"][-1]))) for item in items if item["type"] == "extra_forbidden"
    }
    problems = []
    for item in items:
        loc = _loc((*prefix, *item["loc"]))
        if item["type"] == "extra_forbidden":
            problems.append(Problem(loc, OMITTED, _unknown_key(item)))
        elif item["type"] == "missing" and tuple(item["loc"]) not in renamed:
            problems.append(Problem(loc, OMITTED, "is required"))
        elif item["type"] != "missing":
            problems.append(
                Problem(
                    loc,
                    item.get("input"),
                    in_words(item, "is not a valid value here; see catalog.schema.json", PATTERN_WORDS),
                )
            )
    return problems


def _parse_entries(section: str, raw: Any, model: type[CatalogModel]) -> tuple[dict[str, Any], list[Problem], set[str]]:
    """Each `name: {fields}` entry of a section through its model: (parsed, problems, the
    names whose entry was refused). The name is the key; it is a DNS label."""
    if raw is None:
        return {}, [], set()
    if not isinstance(raw, Mapping):
        return {}, [Problem(section, OMITTED, "must be a map of name to fields")], set()
    parsed, problems, refused = {}, [], set()
    for name, body in raw.items():
        key = f"{section}.{name}"
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            problems.append(Problem(key, OMITTED, f"the name {PATTERN_WORDS[NAME_PATTERN]}"))
        elif not isinstance(body, Mapping):
            problems.append(Problem(key, body, "must be a map of fields"))
        elif "name" in body:
            problems.append(Problem(f"{key}.name", body["name"], "unknown key: the name is the entry's key"))
        else:
            try:
                parsed[name] = validate_entry(model, name, body)
                continue
            except ValidationError as error:
                problems += _model_problems((section, name), error)
        refused.add(str(name))
    return parsed, problems, refused


def validate_entry(model: type[CatalogModel], name: str, body: Mapping[str, Any]) -> CatalogModel:
    """One `name: {fields}` entry through its model, by the file's (camelCase) keys only."""
    data = {**body, "name": name} if model is ServiceSpec else body
    return model.model_validate(data, by_alias=True, by_name=False)


def parse_catalog(raw: Any, source: str = CATALOG_FILE, read_problems: Iterable[Problem] = ()) -> Catalog:
    """A `Catalog` from the file's parsed YAML, or one CatalogError with every problem
    (`read_problems`: what reading the file found, such as duplicate keys)."""
    if not isinstance(raw, Mapping):
        problems = [*read_problems, Problem("(top level)", OMITTED, "must be a map with `services` (and `secrets`)")]
        raise CatalogError(source, problems)
    known = [field.alias or name for name, field in CatalogFile.model_fields.items()]
    problems = list(read_problems)
    problems += [
        Problem(str(key), OMITTED, f"unknown key; known: {', '.join(known)}") for key in raw if key not in known
    ]
    if not raw.get("services"):
        problems.append(Problem("services", OMITTED, "is required: a map of service name to its fields"))
    secrets, secret_problems, _ = _parse_entries("secrets", raw.get("secrets"), SecretSpec)
    services, service_problems, refused = _parse_entries("services", raw.get("services"), ServiceSpec)
    problems += secret_problems + service_problems
    catalog = Catalog(services=tuple(services.values()), secrets=secrets, source=source)
    problems += catalog_problems(catalog, frozenset(refused))
    if problems:
        raise CatalogError(source, problems)
    return catalog


def catalog_path(project_dir: Path) -> Path:
    """The catalog this program reads: catalog.yaml, or the file DOCKYARD_CATALOG names
    (a team's trial copy; the tests run the unit tier against an extended one)."""
    return Path(os.environ.get("DOCKYARD_CATALOG") or project_dir / CATALOG_FILE)


def shown_path(path: Path) -> str:
    """The file as messages name it: relative to the working directory (the project, when
    Pulumi runs the program) when it is below it, else as given (a DOCKYARD_CATALOG copy)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


@collection_paused
def load_catalog(path: Path) -> Catalog:
    source = shown_path(path)
    try:
        text = read_text(path)
    except OSError as error:
        raise CatalogError(source, [Problem(FILE_KEY, OMITTED, f"cannot be read: {error.strerror}")]) from None
    except TextFileError as error:
        raise CatalogError(source, [Problem(FILE_KEY, OMITTED, str(error))]) from None
    try:
        raw, read_problems = load_yaml(text)
    except YamlRefused as refused:
        raise CatalogError(source, refused.problems) from None
    return parse_catalog(raw, source, read_problems)


def catalog_schema() -> dict[str, Any]:
    """The JSON Schema of catalog.yaml (for editors), generated from the models."""
    schema = CatalogFile.model_json_schema(by_alias=True)
    service = ServiceSpec.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    definitions = {**schema.pop("$defs", {}), **service.pop("$defs", {})}
    service["properties"].pop("name")
    service["required"] = [key for key in service["required"] if key != "name"]
    definitions["ServiceSpec"] = service
    schema["properties"]["services"] = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": {"$ref": "#/$defs/ServiceSpec"},
    }
    _close_pattern_maps(definitions)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "$defs": definitions}


def _close_pattern_maps(schema: Any) -> None:
    """A map whose keys have a pattern (env names) refuses other keys, as the model does:
    pydantic writes `patternProperties` alone, which lets any other key through."""
    if isinstance(schema, dict):
        if "patternProperties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            _close_pattern_maps(value)
    elif isinstance(schema, list):
        for value in schema:
            _close_pattern_maps(value)


def schema_text() -> str:
    return json.dumps(catalog_schema(), indent=2, sort_keys=True) + "\n"
