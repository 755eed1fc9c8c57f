"""The local Kubernetes cluster (machine/local_cluster/cluster.sh) from Python, for the real tier's
fixtures: etcd, kube-apiserver, controller-manager, scheduler and one real node (kubelet on
containerd, in a network namespace of its own), with one kubeconfig whose contexts are the
ones the stacks name.

    from machine.local_cluster import cluster
    kubeconfig = cluster.start()          # idempotent; waits for /readyz and the node
    env = {"KUBECONFIG": str(kubeconfig)} # contexts: dockyard-local, minikube, staging, prod
    ...
    cluster.stop()

The environment (DOCKYARD_CLUSTER_DIR, DOCKYARD_CLUSTER_API_PORT, DOCKYARD_CLUSTER_ETCD_PORT,
DOCKYARD_CLUSTER_CONTEXTS, DOCKYARD_TOOLS) is the script's; `env` adds to it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "cluster.sh"
ADMIN_CONTEXT = "dockyard-local"  # the kubeconfig's current context; the stacks' contexts name the same cluster


class ClusterError(RuntimeError):
    """machine/local_cluster/cluster.sh failed; the message ends with its output."""


def _run(
    command: str, env: Mapping[str, str] | None, timeout: float, check: bool = True, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    done = subprocess.run(  # nosec B603 B607 -- argv list, no shell; bash from PATH runs this folder's cluster.sh
        ["bash", str(SCRIPT), command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise ClusterError(
            f"machine/local_cluster/cluster.sh {command} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return done


def start(env: Mapping[str, str] | None = None, timeout: float = 900) -> Path:
    """Start what is not running (building the tools first if they are missing: 25-35 minutes
    cold) and wait until the API server is ready, the node is Ready and CoreDNS serves.
    Returns the kubeconfig."""
    _run("start", env, timeout)
    return kubeconfig_path(env)


def stop(env: Mapping[str, str] | None = None, timeout: float = 120) -> None:
    """Stop every process (its state stays: the next start finds the same objects)."""
    _run("stop", env, timeout)


def purge(env: Mapping[str, str] | None = None, timeout: float = 120) -> None:
    """Stop, and delete the state: the next start is a new, empty cluster."""
    _run("purge", env, timeout)


def running(env: Mapping[str, str] | None = None) -> bool:
    """Every process is up and the API server answers /readyz."""
    return _run("status", env, timeout=60, check=False).returncode == 0


def host_address(env: Mapping[str, str] | None = None) -> str:
    """The host's address on the node's link: what pods reach the host at (a service a test runs
    for the pods, like prod's external database, listens there)."""
    return _run("address", env, timeout=30).stdout.strip()


def load(images: list[str], env: Mapping[str, str] | None = None, timeout: float = 600) -> None:
    """Copy images from the Docker engine into the node (what `minikube image load` does)."""
    _run("load", env, timeout, args=tuple(images))


def kubeconfig_path(env: Mapping[str, str] | None = None) -> Path:
    """The kubeconfig to point KUBECONFIG at (written by start; never ~/.kube/config)."""
    return Path(_run("kubeconfig", env, timeout=30).stdout.strip())
