"""Dev's Minikube path on the local cluster's real node (machine/local_cluster/cluster.sh): a dev
trial stack with `kubernetes.enabled` runs its own Docker containers and the same stack on the
cluster's `minikube` context, as `minikube docker-env` and `minikube image load` would feed it.

A module of its own, after test_cluster_stacks.py: staging and prod are gone by then (their
fixture ends with that module), so dev's own sizes fit on the node as on a 2-CPU Minikube.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from components.targets.kubernetes.pod import IMAGE_REVISION_ANNOTATION
from machine.local_cluster import cluster as local_cluster
from testing.reference_app import PROBES_SOURCE
from testing.trial_stack import new_project, remove_leftovers
from tests.real.conftest import docker, wait_until


@pytest.fixture(scope="module")
def minikube_dev(tmp_path_factory, tools_bin, docker_engine, cluster):
    """A dev trial stack with `kubernetes.enabled`: its own Docker containers, and the same
    stack on the cluster's `minikube` context (this API server stands in for Minikube)."""
    project = new_project(tmp_path_factory.mktemp("minikube"))
    project.env["KUBECONFIG"] = str(cluster)
    config = project.config()
    kubernetes = dict(config.get("dockyard:kubernetes") or {})
    kubernetes.update(enabled=True, context="minikube", namespace=project.stack)
    project.write_config({**config, "dockyard:kubernetes": kubernetes})
    # Minikube's node runs what its Docker daemon has: the datastores' images now (`minikube
    # image load`), and each image the stack builds as it appears (`minikube docker-env`).
    local_cluster.load([service["image"] for service in config["dockyard:services"].values() if "image" in service])
    prefix = config["dockyard:images"]["registry"] + "/"
    sync = subprocess.Popen(["bash", str(local_cluster.SCRIPT), "sync-images", prefix], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield project
    os.killpg(sync.pid, signal.SIGTERM)  # the script and its `docker events`
    project.drive("down", "--purge", timeout=900)
    remove_leftovers(project.stack)


def test_6_the_minikube_path_of_dev_rolls_the_pods_when_the_image_id_changes(minikube_dev, kubectl):
    project = minikube_dev
    driven = project.drive("up", timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]

    def revisions() -> dict[str, str]:
        listed = json.loads(kubectl("get", "deployments", "-n", project.stack, "-o", "json"))
        return {
            item["metadata"]["name"]: (item["spec"]["template"]["metadata"].get("annotations") or {}).get(
                IMAGE_REVISION_ANNOTATION, ""
            )
            for item in listed["items"]
        }

    before = revisions()
    loaded = {
        name: docker("image", "inspect", "--format", "{{.Id}}", ref)
        for name, ref in project.outputs()["imageRefs"].items()
    }
    for name in loaded:
        assert before.get(name) == loaded[name], (
            f"{name}: the pods run {before.get(name)}, the daemon has {loaded[name]}"
        )

    path = project.dir / PROBES_SOURCE
    text = path.read_text()
    path.write_text(text.replace('"status": "ok"', '"status": "ok", "minikube": "rolled"', 1))
    driven = project.drive("up", timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]
    after = revisions()
    rolled = {name for name in after if after[name] != before.get(name)}
    api_image = docker("image", "inspect", "--format", "{{.Id}}", project.outputs()["imageRefs"]["backend"])
    assert rolled == {name for name, value in after.items() if value == api_image} and rolled, (before, after)
    assert "frontend" not in rolled
    rollout = kubectl("rollout", "status", f"deployment/{sorted(rolled)[0]}", "-n", project.stack, "--timeout=120s")
    assert "successfully rolled out" in rollout
    # The node runs the rebuilt image: once the old pod is gone (preStop, grace period), the backend
    # pods' image ID is the one the engine built.
    def running() -> set[str]:
        listed = json.loads(kubectl("get", "pods", "-n", project.stack, "-l", "app.kubernetes.io/name=backend", "-o", "json"))
        return {s["imageID"].split("@")[-1] for p in listed["items"] for s in p["status"].get("containerStatuses") or []}

    wait_until(lambda: running() == {api_image}, 120, f"only the rebuilt backend image {api_image} on the node")
