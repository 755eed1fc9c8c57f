"""Catalog files to try on the real loader: the project's catalog (or DOCKYARD_CATALOG's copy)
with one edit, written to a file and read by `load_catalog` as the program reads it. Cases
pick services by what they are (built, with a port, talking to another), never by name, so
they hold for any catalog."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from components.config.catalog import Catalog
from components.config.catalog_file import CatalogError, catalog_path, load_catalog
from testing.harness import PROJECT_DIR

CATALOG_PATH = catalog_path(PROJECT_DIR)
RAW: dict = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


def edited(edit: Callable[[dict], object] | None = None) -> dict:
    """A copy of the catalog's YAML data with `edit(raw)` applied."""
    raw = copy.deepcopy(RAW)
    if edit is not None:
        edit(raw)
    return raw


def text_of(raw: dict) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=1000)


def write(directory: Path, content: dict | str | bytes, name: str = "catalog.yaml") -> Path:
    path = directory / name
    if isinstance(content, dict):
        content = text_of(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def refusal(directory: Path, content: dict | str | bytes) -> CatalogError:
    """What the loader says about `content` written as a catalog file (it must refuse it)."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(write(directory, content))
    return caught.value


def loaded(directory: Path, content: dict | str | bytes) -> Catalog:
    return load_catalog(write(directory, content))


def problems_at(error: CatalogError, key: str) -> list[str]:
    """The refusals of one key (or under it), in the words printed."""
    return [problem.allowed for problem in error.problems if problem.key == key or problem.key.startswith(f"{key}.")]


def service(*, built: bool | None = None, port: bool | None = None, talking: bool = False, stateful: bool | None = None) -> str:
    """A service of the catalog that is (or is not) built / has a port / talks to a service
    with a port / keeps state."""
    for name, body in RAW["services"].items():
        if built is not None and ("build" in body) != built:
            continue
        if port is not None and ("port" in body) != port:
            continue
        if stateful is not None and ("state" in body) != stateful:
            continue
        if talking and not peers_with_port(name):
            continue
        return name
    pytest.skip("the catalog has no such service")


def peers_with_port(name: str) -> list[str]:
    return [peer for peer in RAW["services"][name].get("talksTo", []) if "port" in RAW["services"].get(peer, {})]


def new_name(base: str) -> str:
    """A service or secret name the catalog does not use yet."""
    name = base
    while name in RAW["services"] or name in (RAW.get("secrets") or {}):
        name += "-x"
    return name


def upstream_service(**fields) -> dict:
    """A minimal valid upstream service to add to the catalog."""
    return {
        "image": "example/app:1.0.0",
        "port": 8080,
        "health": {"readiness": {"command": ["app", "check"]}},
        "resources": {"memory": "64Mi", "cpu": "100m"},
        **fields,
    }
