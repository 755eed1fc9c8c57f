"""README "Ship your own services": two services added through the data file alone.

A copy of catalog.yaml gains an upstream service (memcached, which the backend talks to)
and a worker that runs the backend's image with no port. Nothing else changes: every
stack still validates, both targets render them, the NetworkPolicies allow exactly the
declared edges, and the whole unit tier passes against the extended catalog.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.config.catalog import CATALOG_FILE
from components.config.catalog_file import load_catalog
from components.config.settings import SettingsError
from testing.harness import PROJECT_DIR, outside_inputs, run_program

CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAME_LABEL = "app.kubernetes.io/name"
EXTENDED_RUN = "DOCKYARD_SHIP_YOUR_OWN"  # set in the nested unit-tier run

MEMCACHED = {
    # Pinned by digest, as staging and prod deploy every image (a made-up digest: never pulled here).
    "image": "memcached:1.6.39-bookworm@sha256:" + "5e" * 32,
    "port": 11211,
    "command": ["memcached", "--memory-limit=64"],
    "health": {
        "readiness": {"command": ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/11211"]},
        "startInterval": "250ms",
    },
    "resources": {"memory": "128Mi", "cpu": "250m"},
}
WORKER = {
    "imageOf": "backend",
    "command": ["python", "-m", "todo_api.worker"],
    "env": {"DATABASE_URL": "{secret:database-url}", "LOG_LEVEL": "info"},
    "health": {"readiness": {"command": ["python", "-c", "import todo_api"]}},
    "resources": {"memory": "256Mi", "cpu": "250m"},
    "talksTo": ["postgres"],
    "startsAfter": ["migrations"],
}


def extend(raw: dict) -> dict:
    """The edit a team makes to catalog.yaml: two entries, and the backend talking to one."""
    raw = copy.deepcopy(raw)
    raw["services"]["memcached"] = copy.deepcopy(MEMCACHED)
    raw["services"]["worker"] = copy.deepcopy(WORKER)
    backend = raw["services"]["backend"]
    backend["talksTo"] = [*dict.fromkeys([*backend.get("talksTo", []), "memcached"])]  # as often as it is applied
    backend["env"]["MEMCACHED_SERVERS"] = "{host:memcached}:{port:memcached}"
    return raw


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / CATALOG_FILE
    path.write_text(yaml.safe_dump(extend(yaml.safe_load((PROJECT_DIR / CATALOG_FILE).read_text())), sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(extended) -> dict:
    return {stack: run_program(stack, catalog=extended, **outside_inputs(stack)) for stack in ("dev", "staging", "prod")}


def names(run, type_: str) -> set[str]:
    return {r.inputs["metadata"]["name"] if "metadata" in r.inputs else r.inputs["name"] for r in run.of_type(type_)}


def test_an_upstream_image_without_a_digest_is_refused_for_staging_and_prod(tmp_path):
    raw = extend(yaml.safe_load((PROJECT_DIR / CATALOG_FILE).read_text()))
    raw["services"]["memcached"]["image"] = "memcached:1.6.39-bookworm"
    unpinned = tmp_path / CATALOG_FILE
    unpinned.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(SettingsError, match=r"services\.memcached\.image = 'memcached:1\.6\.39-bookworm': .*pinned by digest"):
        run_program("staging", catalog=unpinned, **outside_inputs("staging"))
    assert run_program("dev", catalog=unpinned).of_type(CONTAINER)  # dev takes a tag


def test_the_extended_catalog_is_valid(extended):
    catalog = load_catalog(extended)
    assert {"memcached", "worker"} <= {spec.name for spec in catalog.services}


def test_the_docker_target_runs_both(runs):
    containers = {c.inputs["name"] for c in runs["dev"].of_type(CONTAINER)}
    assert {"dockyard-dev-memcached", "dockyard-dev-worker"} <= containers


def test_the_kubernetes_targets_run_both(runs):
    for stack in ("staging", "prod"):
        assert {"memcached", "worker"} <= names(runs[stack], DEPLOYMENT), stack


def test_the_worker_runs_the_backends_image(runs):
    deployments = {d.inputs["metadata"]["name"]: d for d in runs["staging"].of_type(DEPLOYMENT)}
    image = {
        name: deployments[name].inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for name in ("worker", "backend")
    }
    assert image["worker"] == image["backend"]


def policy_edges(run) -> set[tuple[str, str]]:
    """(client, server) pairs the NetworkPolicies allow between pods, from both ends."""
    egress, ingress = set(), set()
    for policy in run.of_type(NETWORK_POLICY):
        spec = policy.inputs["spec"]
        selected = spec["podSelector"].get("matchLabels", {}).get(NAME_LABEL)
        if selected is None:
            continue
        for rule in spec.get("egress", []):
            egress |= {(selected, peer["podSelector"]["matchLabels"][NAME_LABEL]) for peer in rule["to"] if "podSelector" in peer}
        for rule in spec.get("ingress", []):
            ingress |= {(peer["podSelector"]["matchLabels"][NAME_LABEL], selected) for peer in rule["from"] if "podSelector" in peer}
    assert egress == ingress, "each allowed edge is opened at both ends"
    return egress


def test_network_policies_allow_exactly_the_declared_edges(runs, extended):
    catalog = load_catalog(extended)
    declared = {(spec.name, peer) for spec in catalog.services for peer in spec.talks_to}
    assert policy_edges(runs["staging"]) == declared
    assert ("backend", "memcached") in declared and ("worker", "postgres") in declared


@pytest.mark.skipif(bool(os.environ.get(EXTENDED_RUN)), reason="this is the nested run against the extended catalog")
def test_the_whole_unit_tier_passes_against_the_extended_catalog(extended):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=PROJECT_DIR, env={**os.environ, "DOCKYARD_CATALOG": str(extended), EXTENDED_RUN: "1"},
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
