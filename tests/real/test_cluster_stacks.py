"""Staging and prod under the real Pulumi engine, on a real Kubernetes API server.

The cluster is machine/local_cluster/cluster.sh (kube-apiserver, controller-manager and scheduler v1.37.2,
etcd, kwok nodes; PodSecurity admission on). Staging builds on the `dockyard-buildkit`
builder, pushes to the loopback registry by digest with a registry build cache and deploys;
prod promotes staging's digests through a real StackReference in the same file backend. Each
step is what the PR and deploy workflows do (.github/workflows), in order, on stacks of a copy
of this checkout (testing/trial_cluster.py); only what this run made is removed.
"""

from __future__ import annotations

import json
import secrets
import urllib.request

import pytest

from components.targets.kubernetes.pod import IMAGE_REVISION_ANNOTATION
from testing.harness import CATALOG
from testing.trial_cluster import (
    BUILDER,
    DATABASE_URL,
    MANIFEST_TYPES,
    REGISTRY,
    delete_repository_tags,
    in_namespace,
    new_cluster_project,
    on_stack,
    prod_config,
    push_bases,
    registry_call,
    set_secret,
    staging_config,
)
from testing.trial_stack import Project, new_project, remove_leftovers
from tests.real.conftest import docker, wait_until

# What the workflows run (pulumi/actions with `policyPacks: policy` and `policyPackConfigs:
# policy/config/<stack>.json`), as the plain `pulumi` arguments: tests/workflows/test_tier_agrees.py
# checks that these are exactly the workflows' commands, and this tier runs them as typed.
WORKFLOW_COMMANDS = {
    (command, kind): (command, *(("--yes",) if command == "up" else ()),
                      "--policy-pack", "policy", "--policy-pack-config", f"policy/config/{kind}.json")
    for command in ("preview", "up")
    for kind in ("staging", "prod")
}
BUILT = sorted(spec.name for spec in CATALOG.services if spec.build)
POD_SECURITY = "components/targets/kubernetes/pod.py"
LIVEZ = "apps/backend/src/todo_api/probes.py"


def repository_of(ref: str) -> str:
    """`127.0.0.1:5000/a/b:tag` or `…/a/b` -> `a/b`, the registry's repository path."""
    path = ref.split("/", 1)[1]
    return path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path


class Trial:
    def __init__(self, project: Project, staging: Project, prod: Project, kubectl):
        self.project, self.staging, self.prod, self.kubectl = project, staging, prod, kubectl

    def objects(self, stack: Project, kind: str) -> dict[str, dict]:
        """name -> object, for one kind in the stack's namespace."""
        listed = json.loads(self.kubectl("get", kind, "-n", stack.stack, "-o", "json"))
        return {item["metadata"]["name"]: item for item in listed["items"]}


def images_of(trial: Trial, stack: Project) -> dict[str, str]:
    """workload name -> the image of its first container."""
    found = {}
    for kind in ("deployments", "statefulsets", "jobs"):
        for name, item in trial.objects(stack, kind).items():
            found[name] = item["spec"]["template"]["spec"]["containers"][0]["image"]
    return found


@pytest.fixture(scope="module")
def trial(tmp_path_factory, tools_bin, docker_engine, cluster, kubectl):
    run = secrets.token_hex(3)
    project = new_cluster_project(tmp_path_factory.mktemp("cluster"), cluster)
    staging_stack, prod_stack = f"stg{run}", f"prd{run}"
    bases_repository = f"{staging_stack}/bases"
    bases = push_bases(bases_repository)
    staging = on_stack(project, staging_stack, staging_config(staging_stack, bases))
    prod = on_stack(project, prod_stack, prod_config(prod_stack, staging_stack))
    set_secret(prod, "databaseUrl", DATABASE_URL)
    yield Trial(project, staging, prod, kubectl)
    for stack in (prod, staging):
        stack.drive("down", "--purge", timeout=900)
        kubectl("delete", "namespace", stack.stack, "--ignore-not-found", "--wait=false", check=False)
        remove_leftovers(stack.stack)
    pushed_bases = {*bases[0].values(), *bases[1].values()}
    for repository in (*(f"{staging_stack}/{name}" for name in BUILT), *(repository_of(ref) for ref in pushed_bases)):
        delete_repository_tags(repository)


def test_1_the_pr_preview_passes_the_policy_pack_and_refuses_a_broken_stack(trial):
    clean = trial.staging.pulumi(*WORKFLOW_COMMANDS["preview", "staging"])
    assert clean.returncode == 0, clean.output[-4000:]
    assert "dockyard@v" in clean.output  # the pack ran as an analyzer

    path = trial.project.dir / POD_SECURITY
    original = path.read_text()
    assert '"privileged": False,' in original
    path.write_text(original.replace('"privileged": False,', '"privileged": True,'))
    try:
        broken = trial.staging.pulumi(*WORKFLOW_COMMANDS["preview", "staging"])
    finally:
        path.write_text(original)
    assert broken.returncode != 0
    assert "k8s-pod-security-restricted" in broken.output and "privileged must not be true" in broken.output


def test_2_staging_up_pushes_by_digest_and_every_object_is_accepted(trial):
    driven = trial.staging.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]
    outputs = trial.staging.outputs()
    pushed = outputs["images"]
    assert sorted(pushed) == BUILT
    for name, ref in pushed.items():
        repository, digest = ref.split("@")
        assert repository == f"{REGISTRY}/{trial.staging.stack}/{name}"
        path = repository_of(repository)
        assert registry_call("HEAD", path, digest)[0] == 200, f"{ref} is not in the registry"
        assert registry_call("HEAD", path, "buildcache")[0] == 200, f"no registry build cache for {name}"
    namespace = json.loads(trial.kubectl("get", "namespace", trial.staging.stack, "-o", "json"))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # Workloads run the digests staging pushed.
    running = images_of(trial, trial.staging)
    for name, ref in pushed.items():
        assert ref in running.values(), f"{name}: {ref} not deployed ({running})"
    for name, deployment in trial.objects(trial.staging, "deployments").items():
        status = deployment["status"]
        assert status.get("availableReplicas") == deployment["spec"]["replicas"], (name, status)
    jobs = trial.objects(trial.staging, "jobs")
    for name, job in jobs.items():
        assert job["status"].get("succeeded") == 1, (name, job["status"])
    # The migrations Job completed before the pods on its image started (RFC 3339 UTC sorts as text).
    completed = max(job["status"]["completionTime"] for job in jobs.values())
    api_pods = [
        pod
        for pod in trial.objects(trial.staging, "pods").values()
        if pod["spec"]["containers"][0]["image"] == pushed["backend"]
        and pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    ]
    assert api_pods and all(pod["metadata"]["creationTimestamp"] >= completed for pod in api_pods), completed

    again = trial.staging.pulumi(*WORKFLOW_COMMANDS["preview", "staging"], "--expect-no-changes", timeout=900)
    assert again.returncode == 0, again.output[-4000:]


def manifest_layers(ref: str) -> list[str]:
    """The layer digests of a pushed image (its linux/amd64 manifest, through an index if any)."""
    repository, digest = ref.split("@")
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repository_of(repository)}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        manifest = json.load(response)
    if "manifests" in manifest:
        (platform,) = [m for m in manifest["manifests"] if (m.get("platform") or {}).get("architecture") == "amd64"]
        return manifest_layers(f"{repository}@{platform['digest']}")
    return [layer["digest"] for layer in manifest["layers"]]


def test_2b_an_unchanged_build_on_an_empty_builder_is_served_from_the_registry_cache(trial):
    """A second stack builds the same source with the same settings after the builder's own
    cache is emptied: every layer comes out identical, so each step came from <repo>:buildcache
    (a `RUN pip install` run again would write new file times, hence new layers)."""
    first = trial.staging.outputs()["images"]
    docker("buildx", "prune", "--builder", BUILDER, "--all", "--force", timeout=600)
    twin = on_stack(trial.project, f"{trial.staging.stack}b", {})
    config = trial.staging.config()
    twin.write_config({**config, "dockyard:kubernetes": in_namespace(config, twin.stack)})
    try:
        driven = twin.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
        assert driven.returncode == 0, driven.output[-6000:]
        second = twin.outputs()["images"]
        for name in BUILT:
            assert manifest_layers(second[name]) == manifest_layers(first[name]), f"{name} was rebuilt, not cached"
    finally:
        twin.drive("down", "--purge", timeout=900)
        trial.kubectl("delete", "namespace", twin.stack, "--ignore-not-found", "--wait=false", check=False)


def test_3_a_backend_change_rolls_exactly_the_backend_and_its_job(trial):
    before = images_of(trial, trial.staging)
    path = trial.project.dir / LIVEZ
    text = path.read_text()
    start = text.index('    return {"status": "ok"')
    end = text.index("\n", start)
    path.write_text(text[:start] + '    return {"status": "ok", "edit": "rolled"}' + text[end:])
    driven = trial.staging.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]
    after = images_of(trial, trial.staging)
    changed = {name for name in after if after[name] != before.get(name)}
    api_image = trial.staging.outputs()["images"]["backend"]
    assert changed and all(after[name] == api_image for name in changed), (before, after)
    assert all(not name.startswith("frontend") for name in changed)
    kinds = {kind for kind in ("deployments", "jobs") for name in trial.objects(trial.staging, kind) if name in changed}
    assert kinds == {"deployments", "jobs"}, changed


def test_4_prod_promotes_staging_digests_through_a_stack_reference(trial):
    preview = trial.prod.pulumi(*WORKFLOW_COMMANDS["preview", "prod"])
    assert preview.returncode == 0, preview.output[-4000:]
    driven = trial.prod.pulumi(*WORKFLOW_COMMANDS["up", "prod"], timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]
    staging_images = trial.staging.outputs()["images"]
    outputs = trial.prod.outputs()
    assert set(outputs["promotedFrom"].values()) == {f"organization/dockyard/{trial.staging.stack}"}
    running = images_of(trial, trial.prod)
    for name, ref in staging_images.items():
        assert ref in running.values(), f"prod does not run staging's {name} digest {ref}: {running}"


def test_4b_prod_refuses_a_source_stack_that_never_pushed(trial):
    never = on_stack(trial.project, f"{trial.staging.stack}x", {"dockyard:kind": "dev"})  # exists, exports nothing
    refusing = on_stack(trial.project, f"{trial.prod.stack}x", prod_config(f"{trial.prod.stack}x", never.stack))
    set_secret(refusing, "databaseUrl", DATABASE_URL)
    driven = refusing.pulumi("preview")
    assert driven.returncode != 0
    assert f"cannot promote from stack 'organization/dockyard/{never.stack}'" in driven.output
    assert "exports no 'images' output" in driven.output


def test_5_destroying_staging_leaves_prods_images_and_objects(trial):
    prod_before = images_of(trial, trial.prod)
    driven = trial.staging.pulumi("destroy", "--yes", timeout=1800)
    assert driven.returncode == 0, driven.output[-4000:]
    wait_until(
        lambda: trial.kubectl("get", "namespace", trial.staging.stack, check=False) == "",
        300,
        "the staging namespace to be gone",
    )
    assert images_of(trial, trial.prod) == prod_before
    for ref in trial.prod.outputs()["kubernetes"]["images"].values():
        if not ref.startswith(f"{REGISTRY}/"):
            continue  # upstream images (redis), pinned by digest in the stack file
        repository, digest = ref.split("@")
        assert registry_call("GET", repository_of(repository), digest)[0] == 200, f"{ref} was deleted"


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
    yield project
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

    path = project.dir / LIVEZ
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
