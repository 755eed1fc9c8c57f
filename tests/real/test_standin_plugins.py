"""Real-engine tier: the STAND-IN docker-build and random provider plugins (engine/plugins/),
installed with engine/plugins/install.sh and driven by the real Pulumi CLI through small
inline Automation API programs (temporary PULUMI_HOME, file backend, passphrase secrets).

- random: create, a no-change preview, a keeper change replaces the value, destroy.
- docker-build on the `dockyard-buildkit` remote builder (engine/buildkit.sh): a load-only
  build has a real digest and lands in the engine; a no-change preview; a context file change
  rebuilds with a new contextHash; a push to the loopback registry with a registry cache
  gives `ref` = `repo:tag@digest`, which the registry serves (refresh finds it, destroy
  deletes it); a BuildKit secret reaches `RUN --mount=type=secret`; a failed build's error
  carries the tail of buildx's output.

Skips with the reason when the CLI is not built or no engine, builder or registry answers;
fails instead under CI=true. Names are unique per run; only what the tests made is removed.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
import pulumi_random as random
import pytest
from pulumi import automation as auto

from engine.trial_cluster import BUILDER, REGISTRY, delete_manifest, registry_call
from testing import dockerlib as dl
from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("DOCKYARD_PULUMI_CLI", "/var/cache/dockyard/tools/pulumi-v3.274.1/bin/pulumi"))
INSTALL = PROJECT_DIR / "engine" / "plugins" / "install.sh"
RUN_ID = uuid.uuid4().hex[:10]
RUN_LABEL = "dockyard.test.standin-run"  # on every image the tests build, to remove them all
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


# --- the CLI, the stand-ins and a stack --------------------------------------------------------

@pytest.fixture(scope="module")
def pulumi_home(tmp_path_factory) -> Path:
    """A fresh PULUMI_HOME holding only the two stand-ins, installed as the SDKs ask."""
    require(os.access(CLI, os.X_OK), f"the real pulumi CLI is not built at {CLI} (engine/pulumi-tools.sh)")
    home = tmp_path_factory.mktemp("pulumi-home")
    for _ in range(2):  # the second run must find both installed and change nothing
        proc = subprocess.run(["bash", str(INSTALL), str(CLI.parent), str(PROJECT_DIR / ".venv" / "bin" / "python")],
                              env={**os.environ, "PULUMI_HOME": str(home)}, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"engine/plugins/install.sh failed:\n{proc.stdout}{proc.stderr}"
    assert proc.stderr.count("already installed") == 2, proc.stderr
    return home


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pulumi-backend")


def make_stack(name: str, program: Callable[[], None], home: Path, backend: Path) -> auto.Stack:
    project = f"standin-{name}-{RUN_ID}"
    options = auto.LocalWorkspaceOptions(
        pulumi_command=auto.PulumiCommand(root=str(CLI.parent.parent), skip_version_check=True),
        pulumi_home=str(home),
        env_vars={
            "PULUMI_CONFIG_PASSPHRASE": "standin-test",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # Over any PULUMI_BACKEND_URL around (the Makefile exports the checkout's own).
            "PULUMI_BACKEND_URL": f"file://{backend}",
        },
        project_settings=auto.ProjectSettings(
            name=project, runtime="python", backend=auto.ProjectBackend(url=f"file://{backend}"),
        ),
    )
    return auto.create_stack("test", project_name=project, program=program, opts=options)


def dispose(stack: auto.Stack) -> None:
    """Destroy what the stack made and forget the stack."""
    try:
        stack.destroy(on_output=print)
    finally:
        stack.workspace.remove_stack(stack.name)


def values(result: auto.UpResult) -> dict:
    return {key: output.value for key, output in result.outputs.items()}


# --- random ------------------------------------------------------------------------------------

def test_random_standin_creates_once_and_replaces_on_keeper_change(pulumi_home, backend):
    settings = {"keeper": "one"}

    def program():
        password = random.RandomPassword("password", length=24, special=False, keepers={"generation": settings["keeper"]})
        salt = random.RandomBytes("salt", length=32)
        pulumi.export("password", password.result)
        pulumi.export("bcrypt", password.bcrypt_hash)
        pulumi.export("hex", salt.hex)
        pulumi.export("base64", salt.base64)

    stack = make_stack("random", program, pulumi_home, backend)
    try:
        first = stack.up(on_output=print)
        out = values(first)
        assert first.outputs["password"].secret and first.outputs["hex"].secret
        assert re.fullmatch(r"[A-Za-z0-9]{24}", out["password"])
        assert out["bcrypt"].startswith("$2"), "bcryptHash: libcrypt's bcrypt is expected on this machine"
        assert re.fullmatch(r"[0-9a-f]{64}", out["hex"])
        assert base64.b64decode(out["base64"]).hex() == out["hex"]
        state = "".join(path.read_text() for path in backend.rglob("*.json"))
        assert "random:index/randomPassword:RandomPassword" in state, "the file backend holds the stack"
        assert out["password"] not in state and out["hex"] not in state, "the state keeps secrets encrypted"

        stack.preview(expect_no_changes=True, on_output=print)

        settings["keeper"] = "two"
        assert stack.preview(on_output=print).change_summary.get(auto.OpType.REPLACE) == 1
        second = stack.up(on_output=print)
        assert second.summary.resource_changes.get("replace") == 1
        assert values(second)["password"] != out["password"]
        assert values(second)["hex"] == out["hex"], "RandomBytes has no keeper: it stays"
    finally:
        dispose(stack)


# --- docker-build ------------------------------------------------------------------------------

def build_problem() -> str | None:
    """Why no build can run here: the engine, the builder, the loopback registry."""
    if dl.docker_proc("info", timeout=30).returncode != 0:
        return "no Docker engine answers (engine/dockerd.sh)"
    builder = dl.docker_proc("buildx", "inspect", BUILDER, timeout=60)
    if builder.returncode != 0 or "running" not in builder.stdout:
        return f"the buildx builder {BUILDER} is not running (engine/buildkit.sh)"
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5).close()
    except OSError as error:
        return f"no registry answers at {REGISTRY} (engine/registry.sh): {error}"
    return None


def add_shell(archive: tarfile.TarFile) -> None:
    """The host's dash as /bin/sh with the libraries it loads: enough for a `RUN`."""
    dash = Path(shutil.which("dash") or "/bin/dash")
    libraries = re.findall(r"(/\S+) \(0x", subprocess.run(["ldd", str(dash)], capture_output=True, text=True).stdout)
    archive.add(dash.resolve(), arcname="bin/sh")
    for library in libraries:
        archive.add(Path(library).resolve(), arcname=library.lstrip("/"))


@pytest.fixture(scope="module")
def base_image(tmp_path_factory) -> str:
    """A tiny base in the loopback registry: the remote builder cannot see the engine's images."""
    problem = build_problem()
    require(problem is None, problem or "")
    work = tmp_path_factory.mktemp("base")
    (work / "base.txt").write_text("stand-in test base\n")
    with tarfile.open(work / "rootfs.tar", "w") as archive:
        archive.add(work / "base.txt", arcname="base.txt")
        add_shell(archive)
    repository = f"dockyard-standin-test-{RUN_ID}-base"
    ref = f"{REGISTRY}/{repository}:1"
    dl.docker("import", str(work / "rootfs.tar"), ref)
    try:
        dl.docker("push", ref)
        yield ref
    finally:
        dl.docker("image", "rm", ref, check=False)
        delete_manifest(repository, "1")


def write_context(directory: Path, base: str, content: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "Dockerfile").write_text(f"FROM {base}\nCOPY app.txt /app.txt\n")
    (directory / "app.txt").write_text(content)
    (directory / "ignored.log").write_text("excluded by .dockerignore\n")
    (directory / ".dockerignore").write_text("*.log\n")
    return directory


def remove_built_images() -> None:
    """Every image this run loaded, including those a rebuild left untagged."""
    images = dl.docker("image", "ls", "--quiet", "--filter", f"label={RUN_LABEL}={RUN_ID}", check=False).split()
    if images:
        dl.docker("image", "rm", "--force", *sorted(set(images)), check=False)


def export_image(image: docker_build.Image) -> None:
    pulumi.export("digest", image.digest)
    pulumi.export("ref", image.ref)
    pulumi.export("contextHash", image.context_hash)


def test_docker_build_standin_loads_and_rebuilds_on_context_change(pulumi_home, backend, base_image, tmp_path):
    context = write_context(tmp_path / "context", base_image, "one\n")
    tag = f"dockyard-standin-test-{RUN_ID}:load"

    def program():
        export_image(docker_build.Image(
            "image",
            context=docker_build.BuildContextArgs(location=str(context)),
            dockerfile=docker_build.DockerfileArgs(location=str(context / "Dockerfile")),
            tags=[tag], push=False, load=True, build_on_preview=False,
            builder=docker_build.BuilderConfigArgs(name=BUILDER),
            labels={"org.opencontainers.image.title": "standin-test", RUN_LABEL: RUN_ID},
            secrets={"ca_bundle": "not a real bundle"},  # passed as a BuildKit secret file
        ))

    stack = make_stack("docker-build-load", program, pulumi_home, backend)
    try:
        first = values(stack.up(on_output=print))
        assert DIGEST.fullmatch(first["digest"]), first
        assert first["ref"] == tag, "a load-only build of a short tag keeps the tag as its ref"
        assert re.fullmatch(r"[0-9a-f]{64}", first["contextHash"])
        labels = dl.docker("image", "inspect", tag, "--format", "{{json .Config.Labels}}")
        assert RUN_ID in labels, "the image is in the engine, with its labels"

        stack.preview(expect_no_changes=True, on_output=print)
        (context / "ignored.log").write_text("changed, but excluded by .dockerignore\n")
        stack.preview(expect_no_changes=True, on_output=print)

        (context / "app.txt").write_text("two\n")
        assert stack.preview(on_output=print).change_summary.get(auto.OpType.UPDATE) == 1
        second_result = stack.up(on_output=print)
        second = values(second_result)
        assert second_result.summary.resource_changes.get("update") == 1
        assert second["contextHash"] != first["contextHash"]
        assert DIGEST.fullmatch(second["digest"]) and second["digest"] != first["digest"]
        stack.preview(expect_no_changes=True, on_output=print)
    finally:
        dispose(stack)
        remove_built_images()


def test_docker_build_standin_pushes_with_a_registry_cache(pulumi_home, backend, base_image, tmp_path):
    context = write_context(tmp_path / "context", base_image, "pushed\n")
    repository = f"dockyard-standin-test-{RUN_ID}"
    tag, cache = f"{REGISTRY}/{repository}:v1", f"{REGISTRY}/{repository}:buildcache"

    def program():
        export_image(docker_build.Image(
            "image",
            context=docker_build.BuildContextArgs(location=str(context)),
            dockerfile=docker_build.DockerfileArgs(location=str(context / "Dockerfile")),
            tags=[tag], push=True, build_on_preview=False,
            builder=docker_build.BuilderConfigArgs(name=BUILDER),
            cache_from=[docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache))],
            cache_to=[docker_build.CacheToArgs(registry=docker_build.CacheToRegistryArgs(
                ref=cache, mode=docker_build.CacheMode.MAX, image_manifest=True, oci_media_types=True,
            ))],
        ))

    stack = make_stack("docker-build-push", program, pulumi_home, backend)
    try:
        out = values(stack.up(on_output=print))
        assert DIGEST.fullmatch(out["digest"]), out
        assert out["ref"] == f"{tag}@{out['digest']}"
        assert registry_call("GET", repository, out["digest"])[0] == 200
        assert registry_call("HEAD", repository, "v1") == (200, out["digest"])
        assert registry_call("HEAD", repository, "buildcache")[0] == 200, "the registry cache was exported"
        refreshed = stack.refresh(on_output=print)
        assert refreshed.summary.resource_changes.get("update") is None, "the registry still serves tag@digest"
        stack.preview(expect_no_changes=True, on_output=print)
        dispose(stack)
        assert registry_call("HEAD", repository, out["digest"])[0] == 404, "destroy deletes the pushed manifest"
    finally:
        if stack.workspace.list_stacks():
            dispose(stack)
        delete_manifest(repository, "v1")
        delete_manifest(repository, "buildcache")


def test_docker_build_standin_failed_build_reports_the_buildx_output(pulumi_home, backend, base_image, tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")

    def program():
        docker_build.Image(
            "broken", context=docker_build.BuildContextArgs(location=str(context)), push=False,
            builder=docker_build.BuilderConfigArgs(name=BUILDER),
            exports=[docker_build.ExportArgs(cacheonly=docker_build.ExportCacheOnlyArgs())],
        )

    stack = make_stack("docker-build-fail", program, pulumi_home, backend)
    try:
        with pytest.raises(auto.errors.CommandError) as failure:
            stack.up(on_output=print)
        assert "[stand-in docker-build 0.0.22] docker buildx build failed" in str(failure.value)
        assert '"/missing.txt": not found' in str(failure.value), "the tail of buildx's output is in the error"
    finally:
        dispose(stack)


def test_docker_build_standin_passes_secrets_to_buildkit(pulumi_home, backend, base_image, tmp_path):
    """The program hands the CA bundle to its Dockerfiles as the BuildKit secret `ca_bundle`."""
    context = tmp_path / "context"
    context.mkdir()
    bundle = f"bundle-{RUN_ID}"  # in the RUN line too, so no cached step can pass without running
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        f'RUN --mount=type=secret,id=ca_bundle,required=true read -r line < /run/secrets/ca_bundle; [ "$line" = "{bundle}" ]\n'
    )

    def program():
        docker_build.Image(
            "with-secret", context=docker_build.BuildContextArgs(location=str(context)), push=False,
            builder=docker_build.BuilderConfigArgs(name=BUILDER), secrets={"ca_bundle": bundle},
            exports=[docker_build.ExportArgs(cacheonly=docker_build.ExportCacheOnlyArgs())],
        )

    stack = make_stack("docker-build-secret", program, pulumi_home, backend)
    try:
        stack.up(on_output=print)
        state = "".join(path.read_text() for path in backend.rglob("*.json"))
        assert "docker-build:index:Image" in state and bundle not in state, "the secret input stays encrypted"
    finally:
        dispose(stack)
