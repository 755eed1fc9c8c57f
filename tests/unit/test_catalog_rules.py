"""The catalog's own rules: a catalog that breaks one is refused on its own (before any stack's
settings are read), naming catalog.yaml, the service and the field as written there.

Each case starts from the project's catalog (tests.harness.CATALOG) and changes one thing in
it, on whichever services it holds: a service added to catalog.yaml is checked the same way.
"""

import pytest
import yaml

from components.catalog import CATALOG_FILE, Catalog
from components.catalog_checks import catalog_problems
from components.catalog_file import CatalogError, catalog_path, parse_catalog
from tests.harness import CATALOG, PROJECT_DIR

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
