"""BuildKit image build rules (pulumi-docker-build `docker-build:index:Image`)."""

from __future__ import annotations

import pytest
from dockyard_policies import builds

from . import fixtures as fx

IMAGE = builds.IMAGE


def test_compliant_build_passes_every_rule() -> None:
    props = fx.image_build()
    assert builds.tag_violations(IMAGE, props) == []
    assert builds.registry_violations(IMAGE, props) == []
    assert builds.build_arg_violations(IMAGE, props) == []
    assert builds.cache_violations(IMAGE, props, require_registry_cache=True) == []


@pytest.mark.parametrize(
    "tags,expected",
    [
        ([], ["image is pushed without tags; tag it with a version"]),
        (None, ["image is pushed without tags; tag it with a version"]),
        (
            ["reg.test/app:latest"],
            ["tag reg.test/app:latest uses latest; push a version tag"],
        ),
        (
            ["reg.test:5000/app"],
            ["tag reg.test:5000/app has no tag part (implies latest); push a version tag"],
        ),
        (
            ["reg.test/app:1.0", "reg.test/app:latest"],
            ["tag reg.test/app:latest uses latest; push a version tag"],
        ),
    ],
)
def test_pushed_images_need_version_tags(tags: list[str] | None, expected: list[str]) -> None:
    assert builds.tag_violations(IMAGE, fx.image_build(tags=tags)) == expected


def test_local_only_builds_may_use_any_tag() -> None:
    assert builds.tag_violations(IMAGE, fx.image_build(push=False, tags=["dockyard/backend:latest"])) == []


def test_push_needs_a_registry() -> None:
    for registries in (None, [], [{"address": ""}]):
        assert builds.registry_violations(
            IMAGE, fx.image_build(registries=registries, tags=["dockyard/backend:1.2.3"])
        ) == [
            "image is pushed but no registry is named: tags ['dockyard/backend:1.2.3'] "
            "name no registry host and registries is empty"
        ]
    assert builds.registry_violations(IMAGE, fx.image_build(push=False, registries=None)) == []


def test_push_to_a_qualified_tag_may_use_ambient_credentials() -> None:
    for tag in ("registry.example.test/dockyard/backend:1.2.3", "localhost:5000/backend:1", "localhost/backend:1"):
        assert builds.registry_violations(IMAGE, fx.image_build(registries=None, tags=[tag])) == []


@pytest.mark.parametrize(
    "name",
    ["NPM_TOKEN", "db_password", "API_KEY", "GITHUB_CREDENTIALS", "CLIENT_SECRET"],
)
def test_secret_looking_build_args_are_caught(name: str) -> None:
    props = fx.image_build(buildArgs={"APP_VERSION": "1.0", name: "x"})
    assert builds.build_arg_violations(IMAGE, props) == [
        f"build arg {name} looks secret; pass it as a BuildKit secret (secrets), not a build arg"
    ]


def test_registry_cache_required_only_when_configured() -> None:
    local_cache = fx.image_build(cacheTo=[{"local": {"dest": "/tmp/cache"}}])
    assert builds.cache_violations(IMAGE, local_cache, require_registry_cache=True) == [
        "cacheTo must include a registry cache entry ({registry: {ref: ...}}) on this stack"
    ]
    assert builds.cache_violations(IMAGE, fx.image_build(cacheTo=None), require_registry_cache=True)
    assert builds.cache_violations(IMAGE, local_cache, require_registry_cache=False) == []
