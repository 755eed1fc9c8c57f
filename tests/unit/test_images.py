"""ServiceImage: tags, labels, build args and cache per builder choice."""

import re

import pytest

from testing.harness import FAKE_DIGEST, PROJECT_DIR, run_program

TEST_CA = PROJECT_DIR / "tests" / "unit" / "data" / "test-ca.pem"

IMAGE = "docker-build:index:Image"
STAGING = {
    "kind": "staging", "target": "docker",
    "images": {"registry": "registry.example.com/team", "push": True, "tag": "1.4.2"},
}


def images(run):
    return {r.name.removesuffix("-image"): r for r in run.of_type(IMAGE)}


@pytest.fixture(scope="module")
def dev():
    return run_program("dev")


def test_dev_builds_each_app_locally_into_the_daemon(dev):
    built = images(dev)
    assert set(built) == {"backend", "frontend"}
    for service, image in built.items():
        inputs = image.inputs
        assert inputs["load"] is True and inputs["push"] is False
        assert inputs["target"] == "runtime"
        assert inputs["context"]["location"].endswith(f"apps/{service}")
        assert inputs["dockerfile"]["location"].endswith(f"apps/{service}/Dockerfile")
        assert inputs["tags"][0] == f"dockyard/{service}:dev"
        assert inputs["buildOnPreview"] is False
        assert inputs["platforms"] == ["linux/amd64"]


def test_base_image_and_version_are_build_args(dev):
    built = images(dev)
    assert built["backend"].inputs["buildArgs"] == {
        "BASE_IMAGE": "python:3.13-slim-bookworm", "RUNTIME_BASE_IMAGE": "python:3.13-slim-bookworm", "APP_VERSION": "dev",
    }
    assert built["frontend"].inputs["buildArgs"]["BASE_IMAGE"] == "node:22-alpine"
    assert built["frontend"].inputs["buildArgs"]["RUNTIME_BASE_IMAGE"] == "node:22-alpine"
    air_gapped = run_program("dev", {"images": {"baseImages": {"backend": "mirror.local/python:3.11"}}})
    assert images(air_gapped)["backend"].inputs["buildArgs"]["BASE_IMAGE"] == "mirror.local/python:3.11"
    assert images(air_gapped)["backend"].inputs["buildArgs"]["RUNTIME_BASE_IMAGE"] == "mirror.local/python:3.11"


def test_runtime_base_image_is_its_own_build_arg_and_the_base_label():
    run = run_program("dev", {"images": {
        "baseImages": {"backend": "mirror.local/python:3.11"},
        "runtimeBaseImages": {"backend": "mirror.local/python-distroless:3.11"},
    }})
    backend = images(run)["backend"].inputs
    assert backend["buildArgs"]["BASE_IMAGE"] == "mirror.local/python:3.11"
    assert backend["buildArgs"]["RUNTIME_BASE_IMAGE"] == "mirror.local/python-distroless:3.11"
    assert backend["labels"]["org.opencontainers.image.base.name"] == "mirror.local/python-distroless:3.11"
    with pytest.raises(Exception, match=r"images\.runtimeBaseImages\.postgres"):
        run_program("dev", {"images": {"runtimeBaseImages": {"postgres": "x:1"}}})


def test_oci_labels_name_source_revision_and_version(dev):
    labels = images(dev)["backend"].inputs["labels"]
    assert labels["org.opencontainers.image.version"] == "dev"
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", labels["org.opencontainers.image.revision"])
    assert labels["org.opencontainers.image.source"]


def test_tags_come_from_version_and_revision_never_latest():
    run = run_program("staging", STAGING, base_config=False)
    for service, image in images(run).items():
        tags = image.inputs["tags"]
        assert tags[0] == f"registry.example.com/team/{service}:1.4.2"
        assert all(not tag.endswith(":latest") for tag in tags)
        # -dirty: this checkout has uncommitted changes in the build context (a clean clone has none)
        assert all(re.fullmatch(rf"registry\.example\.com/team/{service}:(1\.4\.2|git-[0-9a-f]{{12}}(-dirty)?)", t) for t in tags)


def test_the_commit_tag_says_when_the_context_has_uncommitted_changes_and_which_stage(tmp_path):
    from components.images.service_image import Revision, tags_for

    revision = Revision("0123456789abcdef", changed=("apps/backend/src/x.py", "README.md"))
    assert revision.touches(tmp_path, tmp_path / "apps/backend")
    assert not revision.touches(tmp_path, tmp_path / "apps/frontend")
    assert not Revision("0123456789abcdef").touches(tmp_path, tmp_path)
    assert tags_for("r/backend", "1.0", revision.commit) == ("r/backend:1.0", "r/backend:git-0123456789ab")
    assert tags_for("r/backend", "1.0", revision.commit, dirty=True, dev_stage=True)[1] == "r/backend:git-0123456789ab-dirty-dev"
    assert tags_for("r/backend", "1.0", "unknown") == ("r/backend:1.0",)


def test_an_image_carries_the_last_commit_that_changed_its_own_context(tmp_path):
    """A commit to the backend leaves the frontend's tag and revision label as they were: same
    image, same digest, no frontend rollout (the real node showed every commit rolling both)."""
    import subprocess

    from components.images.service_image import git_revision, source_commit

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    for app in ("backend", "frontend"):
        (tmp_path / "apps" / app).mkdir(parents=True)
        (tmp_path / "apps" / app / "Dockerfile").write_text("FROM scratch\n")
    git("add", "-A")
    git("commit", "-qm", "both")
    first = git("rev-parse", "HEAD")
    (tmp_path / "apps/backend/app.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-qm", "backend only")
    second = git("rev-parse", "HEAD")
    revision = git_revision(tmp_path)
    assert revision.commit == second != first
    assert source_commit(tmp_path, revision, tmp_path / "apps/backend") == second
    assert source_commit(tmp_path, revision, tmp_path / "apps/frontend") == first
    from components.images.service_image import Revision

    assert source_commit(tmp_path, Revision("unknown"), tmp_path / "apps/frontend") == "unknown"


def test_default_docker_driver_uses_inline_cache():
    run = run_program("staging", STAGING, base_config=False)
    for image in images(run).values():
        assert image.inputs["cacheTo"] == [{"inline": {}}]
        assert "builder" not in image.inputs


def test_buildx_builder_uses_registry_cache_mode_max():
    run = run_program("staging", {**STAGING, "images": {**STAGING["images"], "builder": "ci-builder"}}, base_config=False)
    for service, image in images(run).items():
        ref = f"registry.example.com/team/{service}:buildcache"
        assert image.inputs["builder"] == {"name": "ci-builder"}
        assert image.inputs["cacheFrom"] == [{"registry": {"ref": ref}}]
        [cache_to] = image.inputs["cacheTo"]
        assert cache_to["registry"]["ref"] == ref
        assert cache_to["registry"]["mode"] == "max"
        assert cache_to["registry"]["imageManifest"] is True and cache_to["registry"]["ociMediaTypes"] is True


def test_push_uses_secret_registry_credentials():
    run = run_program("staging", {**STAGING, "images": {**STAGING["images"], "registryUsername": "ci"}},
                      secrets={"registryPassword": "s3cret"}, base_config=False)
    for image in images(run).values():
        assert image.inputs["registries"] == [{"address": "registry.example.com", "username": "ci", "password": "s3cret"}]
        assert "registries" in image.secret_inputs
        assert image.inputs["push"] is True


def test_digest_ref_is_exported_after_push():
    run = run_program("staging", STAGING, base_config=False)
    assert run.outputs["images"] == {
        service: f"registry.example.com/team/{service}@{FAKE_DIGEST}" for service in ("backend", "frontend")
    }
    ref = run.outputs["imageRefs"]["backend"]
    assert ref.startswith("registry.example.com/team/backend:") and ref.endswith(f"@{FAKE_DIGEST}")


def test_a_loaded_build_is_referenced_by_its_tag():
    # The provider's ref is tag@digest for a loaded build too; the engine cannot resolve that form
    # for an image it only loaded (no repo digest), so `imageRefs` carries the tag.
    run = run_program("dev")
    for service, ref in run.outputs["imageRefs"].items():
        assert "@" not in ref and ref.startswith(f"dockyard/{service}:"), ref


def test_a_stack_that_only_loads_exports_no_digests():
    # A loaded image has a digest no registry serves: nothing to promote from dev.
    run = run_program("dev")
    assert "images" not in run.outputs and "imageDigests" not in run.outputs


def test_ca_bundle_is_a_buildkit_secret_not_a_build_arg(tmp_path):
    bundle = tmp_path / "extra-ca.pem"
    bundle.write_text(TEST_CA.read_text())  # a real certificate: the settings parse it
    run = run_program("dev", {"images": {"caBundle": str(bundle)}})
    for image in images(run).values():
        assert image.inputs["secrets"] == {"ca_bundle": bundle.read_text()}
        assert "secrets" in image.secret_inputs
        assert all("CERTIFICATE" not in value for value in image.inputs["buildArgs"].values())


def test_platforms_and_build_on_preview_come_from_settings():
    run = run_program("dev", {"images": {"platforms": ["linux/amd64", "linux/arm64"], "buildOnPreview": True}})
    for image in images(run).values():
        assert image.inputs["platforms"] == ["linux/amd64", "linux/arm64"]
        assert image.inputs["buildOnPreview"] is True


def test_service_images_are_components_with_outputs(dev):
    [component] = dev.of_type("dockyard:index:ServiceImage")[:1]
    [child] = [r for r in dev.of_type(IMAGE) if r.name == component.name]
    assert child.parent == component.urn


def test_source_label_comes_from_settings_without_credentials():
    run = run_program("dev", {"images": {"sourceUrl": "https://ci:t0ken@git.example.com/team/dockyard.git"}})
    for image in images(run).values():
        assert image.inputs["labels"]["org.opencontainers.image.source"] == "https://git.example.com/team/dockyard.git"
