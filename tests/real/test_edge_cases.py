"""The laptop's edge cases (issue 39) under the real CLI, language host and providers, on one
trial stack, in the order a developer meets them: a published port another program holds, an
image that does not build, a service that crashes on start (then the fix, which recovers with no
manual step), and a nearly full disk (a second engine of the test's own on a 64 MiB tmpfs root).
Each stops `make up` in words that name the service, the cause and the fix, with no Python
traceback and, for the checks that can run first, before anything is created."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

from testing.reference_app import API, CACHE, WEB
from testing.trial_stack import Project, initialised_stack
from tests.engine.second_engine import SecondEngine, make_pki, missing_tools, short_dir
from tests.real.conftest import container_ids, docker, inspect
from tests.tiers import require

BACKEND_DOCKERFILE = "apps/backend/Dockerfile"
FAILING_STEP = 'RUN echo "edge case: the step prints this" && ls /no-such-directory\n'
REDIS_COMMAND = re.compile(r"command: \[redis-server, ")
NOISE = ("Traceback", "KeyboardInterrupt", "sdk-v2/provider2.go", "Resource monitor has terminated")


def assert_plain(output: str) -> None:
    for noise in NOISE:
        assert noise not in output, f"{noise!r} in:\n{output[-5000:]}"


def nothing_created(project: Project) -> None:
    assert container_ids(project.prefix) == {}
    assert docker("network", "ls", "-q", "--filter", f"name={project.prefix}-net") == ""
    assert docker("volume", "ls", "-q", "--filter", f"label=dockyard.dev/stack={project.stack}") == ""


def edit(project: Project, relative: str, change) -> str:
    """Apply `change` to a file of the copy; returns the original text."""
    path = project.dir / relative
    original = path.read_text()
    changed = change(original)
    assert changed != original, f"the edit did not apply to {relative}"
    path.write_text(changed)
    return original


@pytest.fixture(scope="module")
def project(tmp_path_factory, tools_bin, docker_engine) -> Iterator[Project]:
    with initialised_stack(tmp_path_factory.mktemp("real-edge")) as project:
        yield project


def test_1_a_port_another_program_holds_stops_up_before_anything_is_created(project):
    port = project.config()["dockyard:services"][WEB]["hostPort"]
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        driven = project.drive("up")
    assert driven.returncode != 0
    said = f"port {port} on 127.0.0.1, where {WEB} is published, is taken by another program on this machine"
    assert said in driven.output, driven.output[-4000:]
    assert f"`pulumi config set --path dockyard:services.{WEB}.hostPort " in driven.output
    assert "nothing was created" in driven.output
    assert_plain(driven.output)
    nothing_created(project)
    created = [
        line for line in driven.output.splitlines() if line.startswith(" + ") and "pulumi:pulumi:Stack" not in line
    ]
    assert created == [], "\n".join(created)
    print(driven.output[driven.output.index("Diagnostics:") :])  # the message as it reads (docs/troubleshooting.md)


def test_2_a_failing_build_step_is_said_once_with_its_last_lines(project):
    original = edit(
        project, BACKEND_DOCKERFILE, lambda text: text.replace("WORKDIR /app\n", "WORKDIR /app\n" + FAILING_STEP, 1)
    )
    try:
        driven = project.drive("up")
    finally:
        (project.dir / BACKEND_DOCKERFILE).write_text(original)
    assert driven.returncode != 0
    summary = driven.output[driven.output.index("dockyard: the image backend-image did not build") :]
    assert "did not complete successfully: exit code: 2" in summary.splitlines()[0], summary
    assert "failing step: [builder " in summary and FAILING_STEP.strip()[4:] in summary, summary
    assert "| edge case: the step prints this" in summary, summary
    print(summary)
    assert_plain(driven.output)


def test_3_a_service_that_crashes_on_start_fails_up_at_once_and_the_fix_recovers(project):
    original = edit(
        project,
        "catalog.yaml",
        lambda text: REDIS_COMMAND.sub('command: [redis-server, --no-such-option, "yes", ', text, 1),
    )
    try:
        driven = project.drive("up")
    finally:
        (project.dir / "catalog.yaml").write_text(original)
    assert driven.returncode != 0
    assert f"service '{CACHE}' stopped on start: it exited with code 1" in driven.output, driven.output[-5000:]
    assert "FATAL CONFIG FILE ERROR" in driven.output and "| " in driven.output  # its own output, quoted
    assert "services that talk to it were not started" in driven.output
    assert f"{project.prefix}-{API}" not in container_ids(project.prefix), "the backend started against a crashed redis"
    # at once: the provider's wait saw a crash only after its 180 s time-out
    assert driven.seconds < 150, f"took {driven.seconds:.0f}s"
    print(f"failed after {driven.seconds:.1f}s\n" + driven.output[driven.output.index("Diagnostics:") :])
    assert_plain(driven.output)
    # the fix, and nothing else: the next `up` recovers
    recovered = project.drive("up")
    assert recovered.returncode == 0, recovered.output[-5000:]
    for name in container_ids(project.prefix):
        state = inspect(name)["State"]
        assert state.get("Health", {}).get("Status", "healthy") == "healthy" or state["ExitCode"] == 0, (name, state)


def test_4_ports_this_stacks_own_containers_hold_are_not_taken(project):
    previewed = project.pulumi("preview")
    assert previewed.returncode == 0, previewed.output[-4000:]
    assert "is taken by" not in previewed.output


@pytest.fixture
def small_engine():
    """A second dockerd whose data root is a 64 MiB tmpfs: a nearly full disk, of the test's own."""
    require(not missing_tools(), f"a second engine needs {', '.join(missing_tools())}")
    pki_dir = short_dir("dy-pki-")
    engine = SecondEngine(make_pki(pki_dir / "pki", "edge cases"))
    engine.data_root.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(engine.data_root)], check=True)
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()  # its root stays while the tmpfs is mounted on it
        subprocess.run(["umount", str(engine.data_root)], check=False)
        shutil.rmtree(engine.root, ignore_errors=True)
        shutil.rmtree(pki_dir, ignore_errors=True)


def test_5_a_nearly_full_disk_stops_up_before_anything_is_created(project, small_engine):
    # Plain `pulumi up` (the driver adds nothing here), on the small engine: DOCKER_HOST, as a user sets it.
    project.env["DOCKER_HOST"] = small_engine.unix_host
    try:
        driven = project.pulumi("up", "--yes")
    finally:
        del project.env["DOCKER_HOST"]
    assert driven.returncode != 0
    message = driven.output[driven.output.index("the disk is nearly full") :]
    assert re.search(
        r"\(Docker's root\)[^:]* ha(s|ve) 0\.\d GiB free, and this `up` needs about \d\.\d GiB", message
    ), message
    assert "`docker system df`" in message and "prune" in message and "nothing was created" in driven.output
    print(driven.output[driven.output.index("Diagnostics:") :])
    assert_plain(driven.output)
    assert small_engine.docker("ps", "-aq") == "" and small_engine.docker("volume", "ls", "-q") == ""
