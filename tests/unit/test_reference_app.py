"""catalog.yaml still holds the reference app that testing/reference_app.py pins.

The engine tier and the apps' HTTP checks exercise these services, so they must be there
as pinned; services a team adds beside them change nothing here. A team that replaces the
reference app updates testing/reference_app.py (or deletes this file).
"""

from components.config.catalog import CATALOG_FILE
from components.config.catalog_file import load_catalog
from testing import reference_app
from testing.harness import PROJECT_DIR, talks_to_edges

CATALOG = load_catalog(PROJECT_DIR / CATALOG_FILE)  # the file itself, never DOCKYARD_CATALOG's copy


def test_the_reference_apps_services_are_there_with_their_shape():
    specs = CATALOG.by_name()
    ours = {name: specs[name] for name in reference_app.SERVICES if name in specs}
    assert tuple(ours) == reference_app.SERVICES
    assert tuple(n for n, s in ours.items() if s.build) == reference_app.BUILT
    assert {n: s.image_of for n, s in ours.items() if s.image_of} == reference_app.SHARED_IMAGES
    assert tuple(n for n, s in ours.items() if s.public) == reference_app.PUBLIC
    assert tuple(n for n, s in ours.items() if s.state) == reference_app.STATEFUL
    assert tuple(n for n, s in ours.items() if s.one_shot) == reference_app.ONE_SHOT
    assert {n: s.port for n, s in ours.items() if s.port} == reference_app.PORTS


def test_the_reference_apps_edges_are_there():
    among_ours = {(a, b) for a, b in talks_to_edges(CATALOG.services) if a in reference_app.SERVICES and b in reference_app.SERVICES}
    assert among_ours == reference_app.EDGES


def test_the_reference_apps_secrets_are_there():
    assert set(reference_app.SECRETS) <= set(CATALOG.secrets)
    assert CATALOG.replacement("postgres") == "databaseUrl"


def test_what_the_benchmarks_and_engine_tier_pin_matches_the_catalog():
    specs = CATALOG.by_name()
    assert {n: specs[n].health.readiness_path for n in reference_app.READINESS_PATHS} == reference_app.READINESS_PATHS
    assert {n: specs[n].health.liveness_path for n in reference_app.LIVENESS_PATHS} == reference_app.LIVENESS_PATHS
    assert {n: specs[n].writable_paths for n in reference_app.WRITABLE_PATHS} == reference_app.WRITABLE_PATHS
    roles = (reference_app.API, reference_app.WEB, reference_app.DATABASE, reference_app.CACHE)
    assert set(roles) <= set(specs)
    assert (reference_app.WEB, reference_app.API) in reference_app.EDGES
    assert {(reference_app.API, reference_app.DATABASE), (reference_app.API, reference_app.CACHE)} <= reference_app.EDGES
