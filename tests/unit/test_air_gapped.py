"""`make up`'s air-gapped fallback (machine/base_images/air_gapped.py), without an engine: which
public image each air-gapped one stands for, which images a stack would pull, what counts as
unreachable, how the settings merge into the stack file's, and the refusal when nothing can stand in."""

from __future__ import annotations

import pytest
import yaml

from machine.base_images import air_gapped
from testing.harness import CATALOG, PROJECT_DIR


@pytest.mark.parametrize(("ref", "repository"), [
    ("python:3.13-slim-bookworm", "python"),
    ("docker.io/library/node:22-alpine", "node"),
    ("postgres:17.6-bookworm@sha256:" + "a" * 64, "postgres"),
    ("prom/prometheus:v2.42.0", "prom/prometheus"),
    ("127.0.0.1:5000/team/redis", "127.0.0.1:5000/team/redis"),
])  # fmt: skip
def test_repository_of(ref, repository):
    assert air_gapped.repository_of(ref) == repository


def test_an_image_without_a_counterpart_is_named_with_the_ones_there_are():
    with pytest.raises(air_gapped.AirGapError) as refused:
        air_gapped.counterpart("mysql:8", air_gapped.SERVICE_IMAGES)
    assert "'mysql:8'" in str(refused.value) and "postgres" in str(refused.value)


def test_the_wanted_images_are_the_catalogs_after_the_stack_files_overrides():
    bases, runs = air_gapped.wanted_images(PROJECT_DIR, {})
    assert bases == {s.name: s.build.base_image for s in CATALOG.services if s.build}
    assert runs == {s.name: s.image for s in CATALOG.services if s.image}
    built, upstream = sorted(bases)[0], sorted(runs)[0]
    config = {"dockyard:images": {"baseImages": {built: "mine/base:1"}},
              "dockyard:services": {upstream: {"image": "mine/db:1"}}}  # fmt: skip
    bases, runs = air_gapped.wanted_images(PROJECT_DIR, config)
    assert bases[built] == "mine/base:1" and runs[upstream] == "mine/db:1"


def test_every_public_image_of_the_checked_in_catalog_has_an_air_gapped_counterpart(monkeypatch):
    # `make up` of the project as it ships runs air-gapped; a team's own catalog may name images
    # with no counterpart, which the fallback then names in its refusal (tested below).
    monkeypatch.setenv("DOCKYARD_CATALOG", str(PROJECT_DIR / "catalog.yaml"))
    bases, runs = air_gapped.wanted_images(PROJECT_DIR, {})
    for ref in bases.values():
        assert len(air_gapped.counterpart(ref, air_gapped.BUILD_BASES)) == 2
    for ref in runs.values():
        assert air_gapped.counterpart(ref, air_gapped.SERVICE_IMAGES).startswith("dockyard/")


def test_a_build_base_counts_only_from_a_registry_a_run_image_also_from_the_engine(monkeypatch):
    monkeypatch.setattr(air_gapped, "pullable", lambda ref: False)
    monkeypatch.setattr(air_gapped, "in_engine", lambda ref: True)
    assert air_gapped.unreachable({"backend": "python:3"}, {"postgres": "postgres:17"}) == ["python:3"]
    monkeypatch.setattr(air_gapped, "pullable", lambda ref: ref == "python:3")
    monkeypatch.setattr(air_gapped, "in_engine", lambda ref: False)
    assert air_gapped.unreachable({"backend": "python:3"}, {"postgres": "postgres:17"}) == ["postgres:17"]


def test_the_settings_merge_one_level_down_and_win():
    config = {"dockyard:kind": "dev", "dockyard:images": {"tag": "dev", "push": False},
              "dockyard:services": {"frontend": {"hostPort": 3000}}}  # fmt: skip
    overrides = {"dockyard:images": {"builder": "b"}, "dockyard:services": {"frontend": {"image": "x"}, "redis": {"image": "r"}}}
    assert air_gapped.merged(config, overrides) == {
        "dockyard:kind": "dev",
        "dockyard:images": {"tag": "dev", "push": False, "builder": "b"},
        "dockyard:services": {"frontend": {"hostPort": 3000, "image": "x"}, "redis": {"image": "r"}},
    }
    assert config["dockyard:images"] == {"tag": "dev", "push": False}  # the stack's own left as it was


def test_reachable_images_leave_the_stack_file_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(air_gapped, "unreachable", lambda bases, runs: [])
    (tmp_path / "Pulumi.s.yaml").write_text(yaml.safe_dump({"config": {"dockyard:kind": "dev"}}))
    monkeypatch.setenv("DOCKYARD_CATALOG", str(PROJECT_DIR / "catalog.yaml"))
    assert air_gapped.config_file(tmp_path, "s", say=lambda _: None) is None
    assert not (tmp_path / air_gapped.OVERLAY_DIR).exists()


def test_a_stack_that_is_not_dev_keeps_its_own_file(tmp_path, monkeypatch):
    monkeypatch.setattr(air_gapped, "unreachable", lambda bases, runs: ["node:22-alpine"])
    (tmp_path / "Pulumi.s.yaml").write_text(yaml.safe_dump({"config": {"dockyard:kind": "staging"}}))
    assert air_gapped.config_file(tmp_path, "s", say=lambda _: None) is None


def test_unreachable_images_that_cannot_be_built_here_are_refused_in_words(tmp_path, monkeypatch):
    monkeypatch.setattr(air_gapped, "unreachable", lambda bases, runs: ["node:22-alpine"])
    monkeypatch.setattr(air_gapped, "can_build_here", lambda: "building them needs debootstrap")
    (tmp_path / "Pulumi.s.yaml").write_text(yaml.safe_dump({"config": {"dockyard:kind": "dev"}}))
    monkeypatch.setenv("DOCKYARD_CATALOG", str(PROJECT_DIR / "catalog.yaml"))
    with pytest.raises(air_gapped.AirGapError) as refused:
        air_gapped.config_file(tmp_path, "s", say=lambda _: None)
    message = str(refused.value)
    assert "node:22-alpine" in message and "debootstrap" in message and air_gapped.README_SECTION in message
