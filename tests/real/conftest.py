"""Real tier fixtures: the Pulumi CLI, its Python language host and the providers, built from Go
modules and upstream source (machine/toolchain/pulumi-tools.sh), a Docker engine with dockyard's
air-gapped bases, and a trial stack (testing/trial_stack.py) per module: a copy of this checkout
in which the commands users type run as typed (plain `pulumi`, and `make up`'s driver).

Without the tools or an engine the tier skips with the reason; under CI=true it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from testing.trial_stack import PROJECT_DIR
from tests.tiers import require


def _run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    """The CLI and providers, built when missing (20 minutes cold; .ci/run builds them first)."""
    if shutil.which("go") is None:
        require(False, "Go is needed to build the Pulumi CLI and providers (machine/toolchain/pulumi-tools.sh)")
    built = _run(["bash", str(PROJECT_DIR / "machine/toolchain/pulumi-tools.sh")], timeout=3600)
    require(built.returncode == 0, f"machine/toolchain/pulumi-tools.sh failed: {built.stderr[-2000:]}")
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def docker_engine() -> None:
    started = _run(["bash", str(PROJECT_DIR / "machine/provision/dockerd.sh")], timeout=600)
    require(started.returncode == 0, f"no Docker engine: {(started.stdout + started.stderr)[-1500:]}")
    bases = _run(["bash", str(PROJECT_DIR / "machine/base_images/bases.sh")], timeout=2400)
    if bases.returncode != 0:
        pytest.fail(f"machine/base_images/bases.sh failed:\n{(bases.stdout + bases.stderr)[-3000:]}", pytrace=False)


def docker(*args: str, timeout: float = 120) -> str:
    proc = _run(["docker", *args], timeout=timeout)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name))[0]


def container_ids(prefix: str) -> dict[str, str]:
    """container name -> ID for every container whose name starts with `prefix`."""
    listed = docker("ps", "-a", "--filter", f"name=^{prefix}-", "--format", "{{.Names}} {{.ID}}")
    return dict(line.split() for line in listed.splitlines() if line)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what}")


@pytest.fixture(scope="session")
def cluster() -> Path:
    """The local control plane (machine/local_cluster/cluster.sh), started empty for the session and
    stopped after it (one already running is used as it is, and left running); returns the
    kubeconfig whose contexts the stacks name (staging, prod, minikube)."""
    from machine.local_cluster import cluster as control_plane

    if shutil.which("go") is None and not control_plane.running():
        require(False, "Go is needed to build the Kubernetes control plane (machine/local_cluster/cluster-tools.sh)")
    was_running = control_plane.running()
    try:
        if not was_running:
            # A cluster this session starts starts empty: namespaces an interrupted earlier run
            # left behind would hold the node's CPU and leave this run's pods Pending.
            control_plane.purge()
        kubeconfig = control_plane.start(timeout=3600)  # CI may still be building the tools
    except control_plane.ClusterError as error:
        require(False, str(error))
    yield kubeconfig
    if not was_running:
        control_plane.stop()


@pytest.fixture(scope="session")
def kubectl(cluster):
    """kubectl (built by machine/local_cluster/cluster-tools.sh) on the local cluster: stdout, or "" with
    check=False when it fails."""
    tools = _run(["bash", str(PROJECT_DIR / "machine/local_cluster/cluster-tools.sh"), "--print"], timeout=60).stdout.strip()
    binary = Path(tools.splitlines()[-1]) / "kubectl"

    def run(*args: str, check: bool = True, timeout: float = 120) -> str:
        done = completed(*args, timeout=timeout)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout if done.returncode == 0 else ""

    def completed(*args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
        """The whole result (exit code, stdout, stderr), for a refusal the test expects."""
        return _run([str(binary), "--kubeconfig", str(cluster), *args], timeout=timeout, input=input)

    run.completed = completed
    return run


# The cluster's modules, in the order they run: staging and prod first, then dev's Minikube path
# (on a node staging and prod have left).
CLUSTER_MODULES = ("tests/real/test_cluster_stacks.py", "tests/real/test_cluster_minikube.py")


def pytest_collection_modifyitems(items):
    """The cluster's modules run last, in CLUSTER_MODULES order: CI builds the control plane's
    tools after the Pulumi tools, in the background, and the dev stacks need only the Pulumi
    tools, so they run meanwhile (`make test` runs the two apart, in lanes of their own)."""

    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return CLUSTER_MODULES.index(module) + 1 if module in CLUSTER_MODULES else 0

    items.sort(key=rank)
