"""The real program, per stack, under Pulumi mocks: what the Kubernetes target registers.

dev runs with `kubernetes.enabled` (Minikube), staging as configured, prod promoting the
digests a mocked staging run exports (tests/render/render_manifests.RUNS).
"""

from __future__ import annotations

import re

import pytest

from components.catalog import CATALOG, enabled_catalog, talks_to_edges
from components.stack_config import validate
from tests.harness import FAKE_DIGEST, PROJECT_DIR, ProgramRun, merge, run_program, stack_config
from tests.render.render_manifests import PROD_SOURCE_STACK, RUNS, run_stack

STACKS = ("dev", "staging", "prod")
DIGEST_REF = re.compile(r"^[^@:]+(?::[0-9]+)?[^@:]*(?::[^@]+)?@sha256:[0-9a-f]{64}$")
NAME = "app.kubernetes.io/name"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
WORKLOAD_TYPES = (DEPLOYMENT, STATEFUL_SET, JOB)
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"


@pytest.fixture(scope="module", params=STACKS)
def run(request) -> ProgramRun:
    return run_stack(request.param)


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {stack: run_stack(stack) for stack in STACKS}


def workloads(run: ProgramRun) -> dict[str, object]:
    result = {}
    for resource in run.resources:
        if resource.type in WORKLOAD_TYPES:
            result[resource.inputs["spec"]["template"]["metadata"]["labels"][NAME]] = resource
    return result


def container_of(resource) -> dict:
    (container,) = resource.inputs["spec"]["template"]["spec"]["containers"]
    return container


def enabled(stack: str):
    extra = RUNS[stack]()
    raw = merge(stack_config(stack), extra.get("config", {}))
    settings = validate(stack, raw, set(extra.get("secrets", {})), PROJECT_DIR)
    return settings, enabled_catalog(CATALOG, settings)


# --- shape ---------------------------------------------------------------------------------

def test_dev_without_kubernetes_registers_no_kubernetes_object():
    plain = run_program("dev")
    assert not [r for r in plain.resources if r.type.startswith("kubernetes:") or r.type == "pulumi:providers:kubernetes"]
    assert "kubernetes" not in plain.outputs


def test_every_object_belongs_to_the_environment_through_an_explicit_provider(run):
    (component,) = run.of_type("dockyard:index:KubernetesEnvironment")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.parent == component.urn
    objects = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert len(objects) > 20
    assert {r.parent for r in objects} == {component.urn}


def test_provider_targets_the_stack_context_with_server_side_apply(runs):
    expected = {"dev": ("minikube", "dockyard"), "staging": ("staging", "dockyard-staging"), "prod": ("prod", "dockyard")}
    for stack, (context, namespace) in expected.items():
        (provider,) = runs[stack].of_type("pulumi:providers:kubernetes")
        assert provider.inputs["context"] == context
        assert provider.inputs["namespace"] == namespace
        assert str(provider.inputs["enableServerSideApply"]).lower() == "true"
        assert "renderYamlToDirectory" not in provider.inputs


def test_render_yaml_to_directory_reaches_the_provider():
    rendered = run_program("staging", {"kubernetes": {"renderYamlToDirectory": "rendered/staging"}})
    (provider,) = rendered.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == "rendered/staging"


def test_workload_kinds(runs):
    for stack, run in runs.items():
        kinds = {name: r.type for name, r in workloads(run).items()}
        expected = {"backend": DEPLOYMENT, "frontend": DEPLOYMENT, "migrations": JOB, "redis": STATEFUL_SET}
        if stack != "prod":
            expected["postgres"] = STATEFUL_SET
        assert kinds == expected, stack


def test_every_object_lives_in_the_stack_namespace(run):
    (namespace,) = run.of_type("kubernetes:core/v1:Namespace")
    name = namespace.inputs["metadata"]["name"]
    for resource in run.resources:
        if resource.type.startswith("kubernetes:") and resource.type != "kubernetes:core/v1:Namespace":
            assert resource.inputs["metadata"]["namespace"] == name, resource.name
            assert namespace.urn in resource.dependencies or resource.type == HPA, resource.name
    labels = namespace.inputs["metadata"]["labels"]
    assert {labels[f"pod-security.kubernetes.io/{m}"] for m in ("enforce", "audit", "warn")} == {"restricted"}


# --- security ------------------------------------------------------------------------------

def test_every_pod_meets_restricted_with_a_read_only_root(run):
    for name, resource in workloads(run).items():
        pod = resource.inputs["spec"]["template"]["spec"]
        container = container_of(resource)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["securityContext"]["runAsUser"] > 0 and pod["securityContext"]["fsGroup"] > 0, name
        assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == name
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        writable = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in writable, name


def test_upstream_uid_is_a_named_opt_out(run):
    for name, resource in workloads(run).items():
        uid = container_of(resource)["securityContext"]["runAsUser"]
        annotations = resource.inputs["metadata"].get("annotations", {})
        if uid != 1000:
            assert uid == 999 and annotations["opt-out.dockyard.dev/upstream-uid"], name
        else:
            assert "opt-out.dockyard.dev/upstream-uid" not in annotations, name


def test_service_accounts_do_not_mount_tokens(run):
    accounts = run.of_type("kubernetes:core/v1:ServiceAccount")
    assert {a.inputs["metadata"]["name"] for a in accounts} == set(workloads(run))
    assert all(a.inputs["automountServiceAccountToken"] is False for a in accounts)


def test_secrets_stay_secret_and_reach_pods_as_files(run):
    for secret in run.of_type("kubernetes:core/v1:Secret"):
        assert "stringData" in secret.secret_inputs, secret.name
    for config_map in run.of_type("kubernetes:core/v1:ConfigMap"):
        assert not config_map.secret_inputs, config_map.name
        assert not set(config_map.inputs["data"]) & {"DATABASE_URL", "POSTGRES_PASSWORD"}
    for name, resource in workloads(run).items():
        assert not resource.secret_inputs, f"{name}: a workload must not hold a secret value"
        env = {e["name"]: e["value"] for e in container_of(resource).get("env", [])}
        assert not {"DATABASE_URL", "POSTGRES_PASSWORD"} & set(env)
    backend_env = {e["name"]: e["value"] for e in container_of(workloads(run)["backend"])["env"]}
    assert backend_env == {"DATABASE_URL_FILE": "/run/secrets/dockyard/DATABASE_URL"}


def test_secret_names_publish_nothing_derived_from_the_value_alone(runs):
    from components.kubernetes_env import content_name

    for stack, run in runs.items():
        (component,) = run.of_type("dockyard:index:KubernetesEnvironment")
        (salt,) = run.of_type("random:index/randomBytes:RandomBytes")
        assert salt.parent == component.urn and salt.inputs["length"] >= 32
        for secret in run.of_type("kubernetes:core/v1:Secret"):
            prefix = secret.inputs["metadata"]["name"].rsplit("-", 1)[0]
            unkeyed = content_name(prefix, secret.inputs["stringData"])
            assert secret.inputs["metadata"]["name"] != unkeyed, (stack, secret.name)


def test_a_changed_secret_value_rolls_the_pods_that_mount_it():
    inputs = RUNS["prod"]()

    def backend_secret_ref(url: str) -> str:
        run = run_program("prod", secrets={"databaseUrl": url}, stack_outputs=inputs["stack_outputs"])
        (backend,) = [r for r in run.of_type(DEPLOYMENT) if r.name == "kubernetes-backend-deployment"]
        volumes = {v["name"]: v for v in backend.inputs["spec"]["template"]["spec"]["volumes"]}
        return volumes["secrets"]["secret"]["secretName"]

    first = backend_secret_ref("postgresql+psycopg://todo:one@db.example.com:5432/todo")
    assert first == backend_secret_ref("postgresql+psycopg://todo:one@db.example.com:5432/todo")
    assert first != backend_secret_ref("postgresql+psycopg://todo:two@db.example.com:5432/todo")


def test_the_backend_secret_holds_the_database_url(runs):
    (secret,) = [s for s in runs["staging"].of_type("kubernetes:core/v1:Secret") if s.name == "kubernetes-backend-secret"]
    assert secret.inputs["stringData"]["DATABASE_URL"].startswith("postgresql+psycopg://todo:")
    assert "@postgres:5432/todo" in secret.inputs["stringData"]["DATABASE_URL"]
    (prod_secret,) = [s for s in runs["prod"].of_type("kubernetes:core/v1:Secret") if s.name == "kubernetes-backend-secret"]
    assert prod_secret.inputs["stringData"]["DATABASE_URL"] == RUNS["prod"]()["secrets"]["databaseUrl"]


# --- probes and resources -------------------------------------------------------------------

def test_long_running_containers_have_all_probes_and_limits(run):
    for name, resource in workloads(run).items():
        container = container_of(resource)
        resources = container["resources"]
        assert set(resources["limits"]) == set(resources["requests"]) == {"cpu", "memory"}, name
        if resource.type == JOB:
            assert "livenessProbe" not in container
            continue
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container), name
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
        assert resource.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30
    backend = container_of(workloads(run)["backend"])
    assert backend["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert backend["livenessProbe"]["httpGet"]["path"] == "/livez"


# --- images -------------------------------------------------------------------------------

def test_staging_and_prod_deploy_every_image_by_digest(runs):
    for stack in ("staging", "prod"):
        for name, resource in workloads(runs[stack]).items():
            container = container_of(resource)
            assert DIGEST_REF.match(container["image"]), (stack, name, container["image"])
            assert container["imagePullPolicy"] == "Always"


def test_staging_deploys_the_digests_it_built_and_exports(runs):
    staging = runs["staging"]
    images = staging.outputs["images"]
    assert images == {
        "backend": f"registry.example.com/dockyard/backend@{FAKE_DIGEST}",
        "frontend": f"registry.example.com/dockyard/frontend@{FAKE_DIGEST}",
    }
    deployed = {name: container_of(r)["image"] for name, r in workloads(staging).items()}
    assert deployed["backend"] == deployed["migrations"] == images["backend"]
    assert deployed["frontend"] == images["frontend"]


def test_dev_deploys_the_local_tags_without_pulling(runs):
    deployed = {name: container_of(r) for name, r in workloads(runs["dev"]).items()}
    assert deployed["backend"]["image"] == "dockyard/backend:dev"
    assert deployed["backend"]["imagePullPolicy"] == "Never"
    assert deployed["postgres"]["imagePullPolicy"] == "IfNotPresent"


# --- ordering -----------------------------------------------------------------------------

def test_migrations_job_completes_before_the_backend_rolls_out(run):
    jobs = run.of_type(JOB)
    (job,) = jobs
    backend = workloads(run)["backend"]
    assert job.urn in backend.dependencies
    assert job.inputs["spec"]["backoffLimit"] >= 1
    assert job.inputs["spec"]["activeDeadlineSeconds"] > 0 and job.inputs["spec"]["ttlSecondsAfterFinished"] > 0
    if run.stack != "prod":
        # The Job waits for postgres's Service, which is created once the StatefulSet is ready.
        postgres_service = next(r for r in run.of_type("kubernetes:core/v1:Service") if r.inputs["metadata"]["name"] == "postgres")
        assert postgres_service.urn in job.dependencies
        assert workloads(run)["postgres"].urn in postgres_service.dependencies


def test_a_new_image_digest_renames_the_migrations_job():
    def other_digest(args):
        if args.typ == "docker-build:index:Image":
            tags = args.inputs.get("tags") or []
            digest = "sha256:" + "cd" * 32
            return f"{args.name}-id", {**args.inputs, "digest": digest, "ref": f"{tags[0]}@{digest}"}
        return None

    first = run_program("staging").of_type(JOB)[0].inputs["metadata"]["name"]
    again = run_program("staging").of_type(JOB)[0].inputs["metadata"]["name"]
    changed = run_program("staging", new_resource_hook=other_digest).of_type(JOB)[0].inputs["metadata"]["name"]
    assert first == again and first != changed
    assert first.startswith("migrations-") and changed.startswith("migrations-")


# --- scaling --------------------------------------------------------------------------------

def test_hpa_and_pdb_exist_exactly_for_replicated_services(runs):
    expected = {"dev": set(), "staging": {"backend", "frontend"}, "prod": {"backend", "frontend"}}
    for stack, run in runs.items():
        hpas = {r.inputs["spec"]["scaleTargetRef"]["name"] for r in run.of_type(HPA)}
        pdbs = {r.inputs["spec"]["selector"]["matchLabels"][NAME] for r in run.of_type(PDB)}
        assert hpas == pdbs == expected[stack], stack
    prod_hpa = {r.inputs["spec"]["scaleTargetRef"]["name"]: r.inputs["spec"] for r in runs["prod"].of_type(HPA)}
    assert prod_hpa["backend"]["minReplicas"] == 3 and prod_hpa["frontend"]["minReplicas"] == 2


def test_replicated_pods_spread_and_single_ones_keep_their_replica_count(runs):
    for name, resource in workloads(runs["prod"]).items():
        spread = resource.inputs["spec"]["template"]["spec"].get("topologySpreadConstraints")
        assert bool(spread) == (name in {"backend", "frontend"}), name
    dev_frontend = workloads(runs["dev"])["frontend"]
    assert dev_frontend.inputs["spec"]["replicas"] == 1


# --- network --------------------------------------------------------------------------------

def _policy_edges(run: ProgramRun) -> tuple[set, set]:
    egress, ingress = set(), set()
    for policy in run.of_type(NETWORK_POLICY):
        spec = policy.inputs["spec"]
        me = spec["podSelector"].get("matchLabels", {}).get(NAME)
        for rule in spec.get("egress", []):
            egress |= {(me, peer["podSelector"]["matchLabels"][NAME]) for peer in rule["to"] if "podSelector" in peer}
        for rule in spec.get("ingress", []):
            ingress |= {(peer["podSelector"]["matchLabels"][NAME], me) for peer in rule["from"] if "podSelector" in peer}
    return egress, ingress


def test_network_policies_allow_exactly_the_catalog_dependencies(run):
    _, catalog = enabled(run.stack)
    egress, ingress = _policy_edges(run)
    assert egress == ingress == talks_to_edges(catalog)


def test_namespace_is_default_deny_with_dns(run):
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in run.of_type(NETWORK_POLICY)}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns_ports = {(p["protocol"], p["port"]) for p in policies["allow-dns"]["egress"][0]["ports"]}
    assert dns_ports == {("UDP", 53), ("TCP", 53)}
    assert set(policies) == {"default-deny", "allow-dns", *(f"allow-{name}" for name in workloads(run))}


def test_only_prod_opens_egress_to_an_external_database(runs):
    for stack, run in runs.items():
        blocks = {
            (p.inputs["metadata"]["name"], rule["ports"][0]["port"])
            for p in run.of_type(NETWORK_POLICY)
            for rule in p.inputs["spec"].get("egress", [])
            if any("ipBlock" in peer for peer in rule["to"])
        }
        assert blocks == ({("allow-backend", 5432), ("allow-migrations", 5432)} if stack == "prod" else set()), stack


def test_ingress_routes_to_the_frontend_only(run):
    (ingress,) = run.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    paths = ingress.inputs["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["frontend"]
    services = {s.inputs["metadata"]["name"]: s.inputs["spec"] for s in run.of_type("kubernetes:core/v1:Service")}
    assert all(spec["type"] == "ClusterIP" for spec in services.values())
    assert set(services) == {name for name in workloads(run) if name != "migrations"}


def test_outputs_name_the_namespace_url_and_images(runs):
    assert runs["staging"].outputs["kubernetes"]["url"] == "https://staging.dockyard.example.com"
    assert runs["dev"].outputs["kubernetes"]["namespace"] == "dockyard"
    assert set(runs["prod"].outputs["kubernetes"]["images"]) == set(workloads(runs["prod"]))
    assert PROD_SOURCE_STACK in runs["prod"].outputs["promotedFrom"].values()
