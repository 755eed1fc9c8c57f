"""catalog.yaml still holds the reference app that tests/reference_app.py pins.

The one test that fails when the catalog's content changes, on purpose: the engine tier and
the apps' HTTP checks exercise exactly these services. A team whose catalog is its own
updates tests/reference_app.py (or deletes this file).
"""

from components.catalog import CATALOG_FILE, talks_to_edges
from components.catalog_file import load_catalog
from tests import reference_app
from tests.harness import PROJECT_DIR

CATALOG = load_catalog(PROJECT_DIR / CATALOG_FILE)  # the file itself, never DOCKYARD_CATALOG's copy


def test_services_and_their_shape_are_the_reference_apps():
    specs = CATALOG.by_name()
    assert tuple(specs) == reference_app.SERVICES
    assert tuple(n for n, s in specs.items() if s.build) == reference_app.BUILT
    assert {n: s.image_of for n, s in specs.items() if s.image_of} == reference_app.SHARED_IMAGES
    assert tuple(n for n, s in specs.items() if s.public) == reference_app.PUBLIC
    assert tuple(n for n, s in specs.items() if s.state) == reference_app.STATEFUL
    assert tuple(n for n, s in specs.items() if s.one_shot) == reference_app.ONE_SHOT
    assert {n: s.port for n, s in specs.items() if s.port} == reference_app.PORTS


def test_edges_are_the_reference_apps():
    assert talks_to_edges(CATALOG.services) == reference_app.EDGES


def test_secrets_are_the_reference_apps():
    assert set(CATALOG.secrets) == set(reference_app.SECRETS)
    assert CATALOG.replacement("postgres") == "databaseUrl"


def test_what_the_benchmarks_and_engine_tier_pin_matches_the_catalog():
    specs = CATALOG.by_name()
    assert {n: specs[n].health.readiness_path for n in reference_app.READINESS_PATHS} == reference_app.READINESS_PATHS
    assert {n: specs[n].writable_paths for n in reference_app.WRITABLE_PATHS} == reference_app.WRITABLE_PATHS
    roles = (reference_app.API, reference_app.WEB, reference_app.DATABASE, reference_app.CACHE)
    assert set(roles) <= set(specs)
    assert (reference_app.WEB, reference_app.API) in reference_app.EDGES
    assert {(reference_app.API, reference_app.DATABASE), (reference_app.API, reference_app.CACHE)} <= reference_app.EDGES
