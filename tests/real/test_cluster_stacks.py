"""Staging and prod under the real Pulumi engine, on a real Kubernetes API server.

The cluster is machine/local_cluster/cluster.sh (kube-apiserver, controller-manager and scheduler v1.37.2,
etcd, and one real node: kubelet on containerd, CoreDNS, metrics-server; PodSecurity admission
on): every pod runs its process. Staging builds on the `dockyard-buildkit` builder, pushes to
the loopback registry by digest with a registry build cache and deploys; prod promotes
staging's digests through a real StackReference in the same file backend, against a
PostgreSQL of the test's own standing in for the managed one. Each
step is what the PR and deploy workflows do (.github/workflows), in order, on stacks of a copy
of this checkout (testing/trial_cluster.py); only what this run made is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.request

import pytest

from machine.local_cluster import cluster as local_cluster
from testing.harness import CATALOG
from testing.reference_app import PROBES_SOURCE
from testing.request_loop import RequestLoop
from testing.trial_cluster import (
    BUILDER,
    DATABASE_URL,
    MANIFEST_TYPES,
    REGISTRY,
    ExternalDatabase,
    delete_repository_tags,
    in_namespace,
    new_cluster_project,
    on_stack,
    prod_config,
    push_bases,
    push_service_images,
    registry_call,
    set_secret,
    staging_config,
)
from testing.trial_stack import PROJECT_DIR, Project, remove_leftovers
from tests.real.conftest import wait_until

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
BUILDKIT_SCRIPT = PROJECT_DIR / "machine/provision/buildkit.sh"


def repository_of(ref: str) -> str:
    """`127.0.0.1:5000/a/b:tag` or `…/a/b` -> `a/b`, the registry's repository path."""
    path = ref.split("/", 1)[1]
    return path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path


class Trial:
    def __init__(self, project: Project, staging: Project, prod: Project, kubectl, database: ExternalDatabase):
        self.project, self.staging, self.prod, self.kubectl = project, staging, prod, kubectl
        self.database = database  # prod's external PostgreSQL

    def objects(self, stack: Project, kind: str, selector: str | None = None) -> dict[str, dict]:
        """name -> object, for one kind in the stack's namespace."""
        args = ("-l", selector) if selector else ()
        listed = json.loads(self.kubectl("get", kind, "-n", stack.stack, *args, "-o", "json"))
        return {item["metadata"]["name"]: item for item in listed["items"]}

    def url(self, stack: Project, service: str, path: str) -> str:
        """`path` on a Service's ClusterIP: the host routes Service addresses to the node."""
        svc = json.loads(self.kubectl("get", "service", service, "-n", stack.stack, "-o", "json"))
        return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}{path}"

    def pods_of(self, stack: Project, service: str) -> dict[str, dict]:
        return self.objects(stack, "pods", f"app.kubernetes.io/name={service}")

    def psql(self, stack: Project, sql: str) -> str:
        """A query in the stack's PostgreSQL pod, over its local socket."""
        return self.kubectl("exec", "-n", stack.stack, "postgres-0", "--", "psql", "-U", "todo", "-d", "todo",
                            "-tAc", sql).strip()


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def serving(pod: dict) -> bool:
    """Ready and not on its way out: an evicted or deleted pod stays Ready through its preStop
    pause, and is gone a moment later."""
    return ready(pod) and not pod["metadata"].get("deletionTimestamp")


def http_json(url: str, body: dict | None = None, method: str = "GET") -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read() or b"null")


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
    bases = push_bases(f"{staging_stack}/bases")
    # The stack files' upstream postgres and redis, as their air-gapped counterparts in the registry.
    datastores = push_service_images(f"{staging_stack}/services", "staging")
    staging = on_stack(project, staging_stack, staging_config(staging_stack, bases, datastores))
    host = local_cluster.host_address()
    database = ExternalDatabase(prod_stack, host)
    prod = on_stack(project, prod_stack, prod_config(prod_stack, staging_stack, datastores, f"{host}/32"))
    set_secret(prod, "databaseUrl", database.start())
    yield Trial(project, staging, prod, kubectl, database)
    for stack in (prod, staging):
        stack.drive("down", "--purge", timeout=900)
        kubectl("delete", "namespace", stack.stack, "--ignore-not-found", "--wait=false", check=False)
        remove_leftovers(stack.stack)
    database.remove()
    pushed = {*bases[0].values(), *bases[1].values(), *(ref.split("@")[0] for ref in datastores.values())}
    for repository in (*(f"{staging_stack}/{name}" for name in BUILT), *(repository_of(ref) for ref in pushed)):
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


def test_2_staging_up_pushes_by_digest_and_every_pod_runs(trial):
    started = time.monotonic()
    driven = trial.staging.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
    assert driven.returncode == 0, driven.output[-6000:]
    print(f"staging up from nothing to every pod Ready: {time.monotonic() - started:.1f}s")
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
    # Workloads run the digests staging pushed, and the node pulled exactly those.
    running = images_of(trial, trial.staging)
    for name, ref in pushed.items():
        assert ref in running.values(), f"{name}: {ref} not deployed ({running})"
    for name, deployment in trial.objects(trial.staging, "deployments").items():
        status = deployment["status"]
        assert status.get("readyReplicas") == status.get("replicas") >= 1, (name, status)
    # Every pod runs its process and passes its own probes; the Job's pods ran to completion.
    pods = trial.objects(trial.staging, "pods")
    for name, pod in pods.items():
        if pod["metadata"]["ownerReferences"][0]["kind"] == "Job":
            assert pod["status"]["phase"] == "Succeeded", (name, pod["status"])
        else:
            assert pod["status"]["phase"] == "Running" and ready(pod), (name, pod["status"])
            for container in pod["status"]["containerStatuses"]:
                image = container["image"] if "@" in container["image"] else container["imageID"]
                if image.startswith(f"{REGISTRY}/{trial.staging.stack}/"):
                    assert container["imageID"].endswith(image.split("@")[1]), (name, container)
    claims = trial.objects(trial.staging, "persistentvolumeclaims")
    assert claims and all(claim["status"]["phase"] == "Bound" for claim in claims.values()), claims
    jobs = trial.objects(trial.staging, "jobs")
    for name, job in jobs.items():
        assert job["status"].get("succeeded") == 1, (name, job["status"])
    # The migrations Job completed before the pods on its image started (RFC 3339 UTC sorts as text).
    completed = max(job["status"]["completionTime"] for job in jobs.values())
    api_pods = [
        pod
        for pod in pods.values()
        if pod["spec"]["containers"][0]["image"] == pushed["backend"]
        and pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    ]
    assert api_pods and all(pod["metadata"]["creationTimestamp"] >= completed for pod in api_pods), completed

    # A todo created through the frontend's Service (frontend -> backend by name through CoreDNS
    # -> PostgreSQL) is read back from the backend's Service and from PostgreSQL itself.
    title = f"made on the real node {trial.staging.stack}"
    status, created = http_json(trial.url(trial.staging, "frontend", "/api/todos"), {"title": title}, "POST")
    assert status == 201 and created["title"] == title, created
    _, listed = http_json(trial.url(trial.staging, "backend", "/api/todos?limit=500"))
    assert [todo["id"] for todo in listed if todo["title"] == title] == [created["id"]], listed
    assert trial.psql(trial.staging, f"select title from todos where id = {int(created['id'])}") == title

    again = trial.staging.pulumi(*WORKFLOW_COMMANDS["preview", "staging"], "--expect-no-changes", timeout=900)
    assert again.returncode == 0, again.output[-4000:]


def wait_for_rollout(trial: Trial, stack: Project, kind: str, name: str, timeout: int = 300) -> None:
    rollout = trial.kubectl("rollout", "status", f"{kind}/{name}", "-n", stack.stack, f"--timeout={timeout}s",
                            timeout=timeout + 30)
    assert "successfully rolled out" in rollout or "rolling update complete" in rollout, rollout


def eviction(trial: Trial, stack: Project, pod: str) -> subprocess.CompletedProcess:
    """The Eviction API, as `kubectl drain` and a cluster autoscaler use it."""
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": stack.stack}}
    return trial.kubectl.completed("create", "--raw", f"/api/v1/namespaces/{stack.stack}/pods/{pod}/eviction",
                                   "-f", "-", input=json.dumps(body))


def test_2c_an_eviction_that_would_break_the_backends_budget_is_refused(trial):
    stack = trial.staging
    wait_until(lambda: len([p for p in trial.pods_of(stack, "backend").values() if serving(p)]) >= 2, 180,
               "two ready backend pods (the HPA's floor)")
    first, second = sorted(name for name, pod in trial.pods_of(stack, "backend").items() if serving(pod))[:2]
    allowed = eviction(trial, stack, first)
    assert allowed.returncode == 0, allowed.stderr
    refused = eviction(trial, stack, second)  # the first one's replacement is not ready yet
    assert refused.returncode != 0 and "disruption budget" in refused.stderr, (refused.stdout, refused.stderr)
    wait_for_rollout(trial, stack, "deployment", "backend")


def test_2d_deleting_a_backend_pod_under_traffic_drops_no_request(trial):
    """Graceful shutdown: the preStop pause lets the endpoints drop the pod before SIGTERM, and
    the server finishes what it has in flight (terminationGracePeriodSeconds covers both)."""
    stack = trial.staging
    victim = sorted(name for name, pod in trial.pods_of(stack, "backend").items() if serving(pod))[0]
    with RequestLoop(trial.url(stack, "backend", "/api/todos?limit=5")) as loop:
        time.sleep(2)
        trial.kubectl("delete", "pod", victim, "-n", stack.stack, "--wait=true", timeout=120)
        wait_for_rollout(trial, stack, "deployment", "backend")
        time.sleep(2)
    assert loop.ok > 20 and loop.failed == [], (loop.ok, loop.failed[:10])


def test_2e_a_backend_whose_database_is_down_goes_unready_and_is_not_restarted(trial):
    """Liveness checks the process only (/livez), readiness its dependencies (/readyz)."""
    stack = trial.staging
    restarts = {name: pod["status"]["containerStatuses"][0]["restartCount"]
                for name, pod in trial.pods_of(stack, "backend").items()}
    trial.kubectl("scale", "statefulset/postgres", "--replicas=0", "-n", stack.stack)
    try:
        wait_until(lambda: not any(ready(p) for p in trial.pods_of(stack, "backend").values()), 120,
                   "every backend pod to go unready with its database down")
        time.sleep(30)  # three liveness periods: a liveness probe that checked the database would restart it now
        pods = trial.pods_of(stack, "backend")
        assert {name: pod["status"]["containerStatuses"][0]["restartCount"] for name, pod in pods.items()} == restarts
    finally:
        trial.kubectl("scale", "statefulset/postgres", "--replicas=1", "-n", stack.stack)
    wait_for_rollout(trial, stack, "statefulset", "postgres")
    wait_until(lambda: all(ready(p) for p in trial.pods_of(stack, "backend").values()), 180,
               "the backend pods to be ready again")
    assert trial.psql(stack, "select count(*) from todos") != "0"  # the claim kept the data


def test_2f_an_empty_dir_written_past_its_size_limit_evicts_only_that_pod(trial):
    stack = trial.staging
    frontend = json.loads(trial.kubectl("get", "deployment", "frontend", "-n", stack.stack, "-o", "json"))
    volumes = {v["name"]: v for v in frontend["spec"]["template"]["spec"]["volumes"]}
    cache = volumes["writable-app-next-cache"]["emptyDir"]
    assert "medium" not in cache and cache["sizeLimit"] == "64Mi", cache
    victim = sorted(name for name, pod in trial.pods_of(stack, "frontend").items() if serving(pod))[0]
    filled = trial.kubectl.completed(
        "exec", "-n", stack.stack, victim, "--", "node", "-e",
        "require('fs').writeFileSync('/app/.next/cache/fill', Buffer.alloc(80 << 20))",
    )
    assert filled.returncode == 0, filled.stderr

    def evicted() -> str:
        """kubelet's `Evicted` event for the pod (the pod object itself may be gone by then)."""
        events = json.loads(trial.kubectl("get", "events", "-n", stack.stack, "--field-selector",
                                          f"involvedObject.name={victim},reason=Evicted", "-o", "json"))
        return " ".join(event["message"] for event in events["items"])

    message = wait_until(evicted, 240, f"kubelet to evict {victim} for its emptyDir", interval=5)
    assert "writable-app-next-cache" in message, message
    wait_for_rollout(trial, stack, "deployment", "frontend")
    trial.kubectl("delete", "pod", victim, "-n", stack.stack, "--ignore-not-found")


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
    """A second stack builds the same source with the same settings on a builder that has never
    built it (a buildkitd of its own, empty): every layer comes out identical, so each step came
    from <repo>:buildcache (a `RUN pip install` run again would write new file times, hence new
    layers). Its own builder, not the shared one emptied: other lanes of the tier build on that one
    meanwhile. The twin renders its objects to files (`kubernetes.renderYamlToDirectory`) instead
    of running a second copy of the stack on the node: the build and the push are what it is for."""
    first = trial.staging.outputs()["images"]
    twin = on_stack(trial.project, f"{trial.staging.stack}b", {})
    empty_builder = f"{BUILDER}-{twin.stack}"
    builder_env = {**os.environ, "BUILDKIT_BUILDER": empty_builder}
    config = trial.staging.config()
    images = {**config["dockyard:images"], "builder": empty_builder}
    kubernetes = {**in_namespace(config, twin.stack), "renderYamlToDirectory": str(trial.project.dir / "rendered-twin")}
    twin.write_config({**config, "dockyard:images": images, "dockyard:kubernetes": kubernetes})
    try:
        started = subprocess.run(["bash", str(BUILDKIT_SCRIPT)], env=builder_env, capture_output=True, text=True,
                                 timeout=300)
        assert started.returncode == 0, started.stderr
        driven = twin.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
        assert driven.returncode == 0, driven.output[-6000:]
        second = twin.outputs()["images"]
        for name in BUILT:
            assert manifest_layers(second[name]) == manifest_layers(first[name]), f"{name} was rebuilt, not cached"
    finally:
        twin.drive("down", "--purge", timeout=900)
        trial.kubectl("delete", "namespace", twin.stack, "--ignore-not-found", "--wait=false", check=False)
        subprocess.run(["bash", str(BUILDKIT_SCRIPT), "--remove"], env=builder_env, capture_output=True, timeout=120)


def commit(project: Project, message: str) -> str:
    """Commit the trial copy's edits, as a merge to the deployed branch would: the new HEAD."""
    git = ("git", "-C", str(project.dir), "-c", "user.name=real tier", "-c", "user.email=real@tier.invalid")
    subprocess.run([*git, "commit", "-qam", message], check=True, capture_output=True, timeout=60)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def test_3_a_backend_change_rolls_exactly_the_backend_and_its_job_dropping_no_request(trial):
    before = images_of(trial, trial.staging)
    path = trial.project.dir / PROBES_SOURCE
    text = path.read_text()
    start = text.index('    return {"status": "ok"')
    end = text.index("\n", start)
    path.write_text(text[:start] + '    return {"status": "ok", "edit": "rolled"}' + text[end:])
    release = commit(trial.project, "backend: a change that rolls")
    with RequestLoop(trial.url(trial.staging, "backend", "/api/todos?limit=5")) as loop:
        started = time.monotonic()
        driven = trial.staging.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
        print(f"backend rollout (build from cache, migrations Job, rolling update): {time.monotonic() - started:.1f}s")
    assert driven.returncode == 0, driven.output[-6000:]
    assert loop.ok > 50 and loop.failed == [], (loop.ok, loop.failed[:10])
    after = images_of(trial, trial.staging)
    changed = {name for name in after if after[name] != before.get(name)}
    api_image = trial.staging.outputs()["images"]["backend"]
    assert changed and all(after[name] == api_image for name in changed), (before, after)
    assert all(not name.startswith("frontend") for name in changed)
    kinds = {kind for kind in ("deployments", "jobs") for name in trial.objects(trial.staging, kind) if name in changed}
    assert kinds == {"deployments", "jobs"}, changed
    assert trial.staging.outputs()["revision"] == release


def progress_failure(trial: Trial, stack: Project, deployment: str) -> str:
    """The reason of a Deployment's Progressing=False condition, or "" while it progresses."""
    item = json.loads(trial.kubectl("get", "deployment", deployment, "-n", stack.stack, "-o", "json"))
    return next((c.get("reason", "") for c in item["status"].get("conditions") or []
                 if c["type"] == "Progressing" and c["status"] == "False"), "")


def test_3b_a_broken_release_fails_up_keeps_serving_and_is_rolled_back_to_the_last_good_one(trial):
    """The new backend never gets ready. `up` fails once the rollout stops progressing, naming the
    Deployment; the old pods serve throughout (maxUnavailable 0); then the deploy workflow's
    rollback step runs as written there: check out the revision the stack ran before (its
    `revision` output, read before the deploy) and run the same `pulumi up`."""
    stack = trial.staging
    last_good = stack.outputs()["revision"]
    good_image = stack.outputs()["images"]["backend"]
    path = trial.project.dir / PROBES_SOURCE
    text = path.read_text()
    assert "    checks, down = run_checks(request.app.state.todo)\n" in text
    path.write_text(text.replace("    checks, down = run_checks(request.app.state.todo)\n",
                                 "    checks, down = run_checks(request.app.state.todo)\n    down = down or ['broken release']\n", 1))
    commit(trial.project, "backend: a release that never gets ready")
    with RequestLoop(trial.url(stack, "backend", "/api/todos?limit=5")) as loop:
        started = time.monotonic()
        broken = stack.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
        failed_after = time.monotonic() - started
        assert broken.returncode != 0, broken.output[-4000:]
        # The cluster's own verdict, for the record only: the Deployment's progressDeadlineSeconds
        # (180 s) marks it ProgressDeadlineExceeded unless something counted as progress meanwhile,
        # and on a loaded machine an old pod whose readiness probe times out and passes again does.
        verdict = progress_failure(trial, stack, "backend") or "still Progressing"
        # The rollback, as .github/workflows/deploy.yml runs it.
        started = time.monotonic()
        subprocess.run(["git", "-C", str(trial.project.dir), "checkout", "-q", last_good], check=True, timeout=60)
        rolled_back = stack.pulumi(*WORKFLOW_COMMANDS["up", "staging"], timeout=2400)
        rollback_took = time.monotonic() - started
    print(f"broken release: up failed after {failed_after:.1f}s (the Deployment: {verdict}); rollback took "
          f"{rollback_took:.1f}s; {loop.ok} requests served meanwhile")
    assert f"{stack.stack}/backend" in broken.output and "timed out waiting to be Ready" in broken.output, broken.output[-4000:]
    assert rolled_back.returncode == 0, rolled_back.output[-6000:]
    assert loop.ok > 50 and loop.failed == [], (loop.ok, loop.failed[:10])
    assert stack.outputs()["revision"] == last_good
    running = images_of(trial, stack)
    assert running["backend"] == stack.outputs()["images"]["backend"], running
    assert repository_of(running["backend"].split("@")[0]) == repository_of(good_image.split("@")[0])
    # The broken ReplicaSet's pod goes (preStop, grace period); what stays is the last good release, ready.
    wait_until(lambda: (pods := trial.pods_of(stack, "backend")) and all(ready(pod) for pod in pods.values()), 120,
               "only ready backend pods after the rollback")
    running_images = {p["spec"]["containers"][0]["image"] for p in trial.pods_of(stack, "backend").values()}
    assert running_images == {running["backend"]}, running_images


def test_3c_cpu_load_scales_the_backend_within_its_autoscaler_bounds(trial):
    """After the releases: the replicas the autoscaler adds, and its scale-down five minutes
    later, would count as a rollout's progress and push a broken release's deadline back."""
    stack = trial.staging
    hpa = json.loads(trial.kubectl("get", "hpa", "backend", "-n", stack.stack, "-o", "json"))
    floor, ceiling = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    url = trial.url(stack, "backend", "/api/todos?limit=100")
    # Bounded: 6 clients back to back, at most 3 minutes or until the autoscaler acts.
    loops = [RequestLoop(url, interval=0, limit=50000) for _ in range(6)]
    for loop in loops:
        loop.__enter__()
    try:
        def scaled() -> int:
            current = json.loads(trial.kubectl("get", "hpa", "backend", "-n", stack.stack, "-o", "json"))
            return current["status"].get("desiredReplicas", 0) > floor and current["status"]["desiredReplicas"]

        desired = wait_until(scaled, 180, "the HPA to scale the backend up under load", interval=5)
    finally:
        for loop in loops:
            loop.__exit__()
    assert floor < desired <= ceiling, (floor, desired, ceiling)
    top = trial.kubectl("top", "pods", "-n", stack.stack, check=False)
    print(f"HPA: {floor} -> {desired} (max {ceiling}); kubectl top:\n{top}")


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
    # What the node runs: each pod's image ID is the digest staging pushed and ran.
    staging_ran = {
        status["imageID"]
        for pod in trial.objects(trial.staging, "pods").values()
        for status in pod["status"].get("containerStatuses") or []
    }
    for service in BUILT:
        pods = trial.pods_of(trial.prod, service)
        assert pods and all(ready(pod) for pod in pods.values()), (service, pods.keys())
        digest = staging_images[service].split("@")[1]
        for name, pod in pods.items():
            (status,) = pod["status"]["containerStatuses"]
            assert status["imageID"].endswith(digest), (name, status["imageID"], digest)
            assert status["imageID"] in staging_ran, (name, status["imageID"])
    # Prod's backend serves from its external database.
    title = f"made in prod {trial.prod.stack}"
    status, created = http_json(trial.url(trial.prod, "frontend", "/api/todos"), {"title": title}, "POST")
    assert status == 201, created
    assert trial.database.query(f"select title from todos where id = {int(created['id'])}") == title


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
