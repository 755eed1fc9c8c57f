"""The real program, per stack, under Pulumi mocks: what the Kubernetes target registers.

dev runs with `kubernetes.enabled` (Minikube), staging as configured, prod promoting the
digests a mocked staging run exports (tests/render/render_manifests.RUNS).

Which workloads, edges, ports and secrets to expect is derived from the project's catalog
(testing.harness.CATALOG) and each stack's settings, so a team that edits catalog.yaml keeps
these tests green.
"""

from __future__ import annotations

import functools
import re

import pytest

from components.config.catalog import DEFAULT_USER
from components.config.templates import placeholders
from components.plan.resolve import ResolvedStack
from components.targets.kubernetes.objects import content_name
from testing.harness import (
    CATALOG,
    FAKE_DIGEST,
    ProgramRun,
    resolved_stack,
    run_program,
)
from tests.render.render_manifests import PROD_SOURCE_STACK, RUNS, run_stack

STACKS = ("dev", "staging", "prod")
DIGEST_REF = re.compile(r"^[^@:]+(?::[0-9]+)?[^@:]*(?::[^@]+)?@sha256:[0-9a-f]{64}$")
NAME = "app.kubernetes.io/name"
OPT_OUT_PREFIX = "opt-out.dockyard.dev/"
SECRET_DIR = "/run/secrets/dockyard"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
WORKLOAD_TYPES = (DEPLOYMENT, STATEFUL_SET, JOB)
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"

SPECS = CATALOG.by_name()
ONE_SHOT = [spec.name for spec in CATALOG.services if spec.one_shot]


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


def services(run: ProgramRun) -> dict[str, object]:
    """The Services clients use (a virtual IP), by name; not the StatefulSets' headless ones."""
    return {r.inputs["metadata"]["name"]: r for r in run.of_type(SERVICE) if r.inputs["spec"].get("clusterIP") != "None"}


def headless_services(run: ProgramRun) -> dict[str, object]:
    """The StatefulSets' governing Services, by the service they belong to."""
    return {r.inputs["metadata"]["labels"][NAME]: r for r in run.of_type(SERVICE) if r.inputs["spec"].get("clusterIP") == "None"}


def container_of(resource) -> dict:
    (container,) = resource.inputs["spec"]["template"]["spec"]["containers"]
    return container


@functools.cache
def resolved(stack: str) -> ResolvedStack:
    """The stack as the program resolves it, from the same config and secrets as its run."""
    extra = RUNS[stack]()
    return resolved_stack(stack, extra.get("config"), secrets=extra.get("secrets"))


def enabled(stack: str) -> set[str]:
    settings = resolved(stack).settings
    return {spec.name for spec in CATALOG.services if settings.service(spec.name).enabled}


def replicas(stack: str, name: str) -> int:
    return resolved(stack).settings.service(name).replicas


def replicated(stack: str) -> set[str]:
    """Deployments (long-running, stateless) with more than one replica: HPA, PDB, spread."""
    return {
        name for name in enabled(stack)
        if SPECS[name].long_running and SPECS[name].state is None and replicas(stack, name) > 1
    }


def filled(template: str) -> str:
    """A catalog template with hosts (the service's name) and ports (its catalog port)."""
    template = re.sub(r"\{host:([a-z0-9-]+)\}", lambda m: m[1], template)
    return re.sub(r"\{port:([a-z0-9-]+)\}", lambda m: str(SPECS[m[1]].port), template)


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
    # At least a ServiceAccount, a workload and a NetworkPolicy per service, and the
    # Namespace, default-deny, dns-egress and the Ingress.
    assert len(objects) >= 3 * len(enabled(run.stack)) + 4
    assert {r.parent for r in objects} == {component.urn}


def test_provider_targets_the_stack_context_with_server_side_apply(runs):
    # dev's namespace is its own by default (dockyard-<stack>); prod's file keeps the one it had
    expected = {"dev": ("minikube", "dockyard-dev"), "staging": ("staging", "dockyard-staging"), "prod": ("prod", "dockyard")}
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
        expected = {
            name: JOB if SPECS[name].one_shot else STATEFUL_SET if SPECS[name].state is not None else DEPLOYMENT
            for name in enabled(stack)
        }
        assert kinds == expected, stack
    # prod replaces a service from config (Pulumi.prod.yaml): it is not deployed there.
    assert enabled("prod") < set(SPECS)


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
        assert set(SPECS[name].writable_paths) <= writable, name


def test_upstream_uid_is_a_named_opt_out(run):
    default_uid = int(DEFAULT_USER.partition(":")[0])
    for name, resource in workloads(run).items():
        spec = SPECS[name]
        uid = container_of(resource)["securityContext"]["runAsUser"]
        assert uid == int(spec.user.partition(":")[0]), name
        annotations = resource.inputs["metadata"].get("annotations", {})
        opt_outs = {key: value for key, value in annotations.items() if key.startswith(OPT_OUT_PREFIX)}
        assert opt_outs == {f"{OPT_OUT_PREFIX}{key}": reason for key, reason in spec.opt_outs.items()}, name
        if uid != default_uid:
            assert opt_outs[f"{OPT_OUT_PREFIX}upstream-uid"], name


def test_service_accounts_do_not_mount_tokens(run):
    accounts = run.of_type("kubernetes:core/v1:ServiceAccount")
    assert {a.inputs["metadata"]["name"] for a in accounts} == set(workloads(run)) == enabled(run.stack)
    assert all(a.inputs["automountServiceAccountToken"] is False for a in accounts)


def test_secrets_stay_secret_and_reach_pods_as_files(run):
    stack = resolved(run.stack)
    for secret in run.of_type(SECRET):
        assert "stringData" in secret.secret_inputs, secret.name
    for config_map in run.of_type(CONFIG_MAP):
        owner = config_map.inputs["metadata"]["labels"][NAME]
        assert not config_map.secret_inputs, config_map.name
        assert set(config_map.inputs["data"]) == set(SPECS[owner].plain_env_names()), config_map.name
    users = 0
    for name, resource in workloads(run).items():
        assert not resource.secret_inputs, f"{name}: a workload must not hold a secret value"
        env = {e["name"]: e["value"] for e in container_of(resource).get("env", [])}
        assert not set(SPECS[name].secret_env_names()) & set(env), name
        assert env == {f"{key}_FILE": f"{SECRET_DIR}/{key}" for key in stack.services[name].secret_env}, name
        users += bool(env)
    assert users  # the catalog's services use secrets


def test_secret_names_publish_nothing_derived_from_the_value_alone(runs):
    for stack, run in runs.items():
        (component,) = run.of_type("dockyard:index:KubernetesEnvironment")
        (salt,) = run.of_type("random:index/randomBytes:RandomBytes")
        assert salt.parent == component.urn and salt.inputs["length"] >= 32
        for secret in run.of_type(SECRET):
            prefix = secret.inputs["metadata"]["name"].rsplit("-", 1)[0]
            unkeyed = content_name(prefix, secret.inputs["stringData"])
            assert secret.inputs["metadata"]["name"] != unkeyed, (stack, secret.name)


def _secrets_read_from(stack: ResolvedStack, config_key: str) -> set[str]:
    """The stack's secrets whose value is, or is a template over, the config secret."""
    names = {name for name, secret in stack.secrets.items() if secret.config == config_key}
    grown = True
    while grown:
        more = {
            name for name, secret in stack.secrets.items()
            if secret.template and any(kind == "secret" and used in names for kind, used in placeholders(secret.template))
        }
        grown = not more <= names
        names |= more
    return names


def _uses(service, secrets: set[str]) -> bool:
    return any(kind == "secret" and name in secrets for value in service.secret_env.values() for kind, name in placeholders(value))


def test_a_changed_secret_value_rolls_the_pods_that_mount_it():
    inputs = RUNS["prod"]()
    stack = resolved("prod")

    def secret_refs(key: str, value: str) -> dict[str, str]:
        run = run_program("prod", secrets={**inputs["secrets"], key: value}, stack_outputs=inputs["stack_outputs"])
        refs = {}
        for name, workload in workloads(run).items():
            volumes = {v["name"]: v for v in workload.inputs["spec"]["template"]["spec"]["volumes"]}
            if "secrets" in volumes:
                refs[name] = volumes["secrets"]["secret"]["secretName"]
        return refs

    checked = 0
    for key, value in inputs["secrets"].items():
        read = _secrets_read_from(stack, key)
        users = {name for name, service in stack.services.items() if _uses(service, read)}
        if not users:
            continue
        first = secret_refs(key, f"{value}-one")
        assert first == secret_refs(key, f"{value}-one")
        changed = secret_refs(key, f"{value}-two")
        assert set(first) == set(changed) >= users
        for name in first:
            assert (first[name] != changed[name]) == (name in users), (key, name)
        checked += 1
    assert checked  # prod reads a secret from config (the external database's URL)


def _value_pattern(template: str, stack: ResolvedStack, config: dict[str, str]) -> str:
    """A regex for the value a secret env template takes: generated secrets are letters and
    digits of their length, config secrets the configured value, templates expanded."""
    pattern = []
    for part in re.split(r"(\{secret:[a-z0-9-]+\})", filled(template)):
        used = re.fullmatch(r"\{secret:([a-z0-9-]+)\}", part)
        if used is None:
            pattern.append(re.escape(part))
            continue
        secret = stack.secrets[used[1]]
        if secret.template is not None:
            pattern.append(_value_pattern(CATALOG.secrets[used[1]].template, stack, config))
        elif secret.generate is not None:
            pattern.append(f"[A-Za-z0-9]{{{secret.generate.length}}}")
        else:
            pattern.append(re.escape(config[secret.config]))
    return "".join(pattern)


def test_each_secret_holds_the_values_of_its_service_templates(runs):
    for stack_name, run in runs.items():
        stack = resolved(stack_name)
        config = RUNS[stack_name]().get("secrets", {})
        secrets = {s.inputs["metadata"]["labels"][NAME]: s for s in run.of_type(SECRET)}
        assert set(secrets) == {name for name, service in stack.services.items() if service.secret_env}, stack_name
        for name, secret in secrets.items():
            data = secret.inputs["stringData"]
            assert set(data) == set(SPECS[name].secret_env_names()), (stack_name, name)
            for key, value in data.items():
                pattern = _value_pattern(SPECS[name].env[key], stack, config)
                assert re.fullmatch(pattern, value), (stack_name, name, key, value, pattern)


# --- probes and resources -------------------------------------------------------------------

def test_long_running_containers_have_all_probes_and_limits(run):
    for name, resource in workloads(run).items():
        container = container_of(resource)
        resources = container["resources"]
        assert set(resources["limits"]) == set(resources["requests"]) == {"cpu", "memory", "ephemeral-storage"}, name
        assert resources["limits"]["ephemeral-storage"] == SPECS[name].ephemeral_storage, name
        if resource.type == JOB:
            assert "livenessProbe" not in container
            continue
        health = SPECS[name].health
        if health.liveness is None:  # readiness only: the kubelet restarts it when it exits
            assert not {"startupProbe", "livenessProbe"} & set(container) and "readinessProbe" in container, name
            continue
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container), name
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
        assert resource.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30
        for probe, check in (("readinessProbe", health.readiness), ("livenessProbe", health.liveness)):
            if check.path:
                assert container[probe]["httpGet"]["path"] == check.path, (name, probe)
            else:
                assert container[probe]["exec"]["command"] == list(check.command), (name, probe)
        # Liveness is never readiness (issue 37): a dependency's outage must not restart the pod.
        handler = {key: value for key, value in container["livenessProbe"].items() if key in ("httpGet", "exec")}
        assert handler != {key: value for key, value in container["readinessProbe"].items() if key in ("httpGet", "exec")}, name


# --- images -------------------------------------------------------------------------------

def test_staging_and_prod_deploy_every_image_by_digest(runs):
    for stack in ("staging", "prod"):
        for name, resource in workloads(runs[stack]).items():
            container = container_of(resource)
            assert DIGEST_REF.match(container["image"]), (stack, name, container["image"])
            assert container["imagePullPolicy"] == "Always"


def test_staging_deploys_the_digests_it_built_and_exports(runs):
    staging = runs["staging"]
    stack = resolved("staging")
    registry = stack.settings.images.registry
    images = staging.outputs["images"]
    assert images == {name: f"{registry}/{name}@{FAKE_DIGEST}" for name in stack.built}
    assert images  # the catalog builds images
    deployed = {name: container_of(r)["image"] for name, r in workloads(staging).items()}
    for name, service in stack.services.items():
        if service.built_from:
            assert deployed[name] == images[service.built_from], name
        else:
            assert deployed[name] == (stack.settings.service(name).image or SPECS[name].image), name


def test_dev_deploys_the_local_tags_without_pulling(runs):
    stack = resolved("dev")
    deployed = {name: container_of(r) for name, r in workloads(runs["dev"]).items()}
    assert set(deployed) == set(stack.services)
    for name, service in stack.services.items():
        if service.built_from:
            assert deployed[name]["image"] == f"dockyard/{service.built_from}:{stack.settings.images.tag}", name
            assert deployed[name]["imagePullPolicy"] == "Never", name
        else:
            assert deployed[name]["image"] == SPECS[name].image, name
            assert deployed[name]["imagePullPolicy"] == "IfNotPresent", name


# --- ordering -----------------------------------------------------------------------------

def test_each_job_completes_before_the_services_that_start_after_it(run):
    on = enabled(run.stack)
    loads = workloads(run)
    jobs = {name: r for name, r in loads.items() if r.type == JOB}
    assert set(jobs) == {name for name in on if SPECS[name].one_shot}
    for name in on:
        for job in SPECS[name].starts_after:
            if job in on:
                assert jobs[job].urn in loads[name].dependencies, (name, job)
    for job in jobs.values():
        assert job.inputs["spec"]["backoffLimit"] >= 1
        assert job.inputs["spec"]["activeDeadlineSeconds"] > 0 and job.inputs["spec"]["ttlSecondsAfterFinished"] > 0


def test_dependants_wait_for_the_services_they_talk_to(run):
    # A workload waits for each peer's Service, which is created once the peer's pods are
    # ready (the Service depends on its workload); a peer without a Service, for the workload.
    on = enabled(run.stack)
    loads, by_name = workloads(run), services(run)
    edges = 0
    for name in on:
        for server in SPECS[name].talks_to:
            if server not in on:
                continue
            ready = by_name.get(server, loads[server])
            assert ready.urn in loads[name].dependencies, (name, server)
            edges += 1
    for server, service in by_name.items():
        assert loads[server].urn in service.dependencies, server
    assert edges  # the catalog's services talk to each other


@pytest.mark.skipif(not ONE_SHOT, reason="the catalog has no one-shot service")
def test_a_new_image_digest_renames_the_jobs_that_run_it():
    def other_digest(args):
        if args.typ == "docker-build:index:Image":
            tags = args.inputs.get("tags") or []
            digest = "sha256:" + "cd" * 32
            return f"{args.name}-id", {**args.inputs, "digest": digest, "ref": f"{tags[0]}@{digest}"}
        return None

    def job_names(run: ProgramRun) -> dict[str, str]:
        return {name: r.inputs["metadata"]["name"] for name, r in workloads(run).items() if r.type == JOB}

    first = job_names(run_program("staging"))
    again = job_names(run_program("staging"))
    changed = job_names(run_program("staging", new_resource_hook=other_digest))
    stack = resolved("staging")
    assert set(first) == set(changed) == {name for name in stack.services if SPECS[name].one_shot}
    assert first == again
    for name in first:
        assert (first[name] != changed[name]) == bool(stack.services[name].built_from), name
        assert first[name].startswith(f"{name}-") and changed[name].startswith(f"{name}-")


# --- scaling --------------------------------------------------------------------------------

def test_hpa_and_pdb_exist_exactly_for_replicated_services(runs):
    for stack, run in runs.items():
        hpas = {r.inputs["spec"]["scaleTargetRef"]["name"]: r.inputs["spec"] for r in run.of_type(HPA)}
        pdbs = {r.inputs["spec"]["selector"]["matchLabels"][NAME] for r in run.of_type(PDB)}
        assert set(hpas) == pdbs == replicated(stack), stack
        for name, spec in hpas.items():
            assert spec["minReplicas"] == replicas(stack, name), (stack, name)
    assert replicated("prod")  # prod runs its public services with at least 2 replicas


def test_replicated_pods_spread_and_single_ones_keep_their_replica_count(runs):
    for stack, run in runs.items():
        for name, resource in workloads(run).items():
            spread = resource.inputs["spec"]["template"]["spec"].get("topologySpreadConstraints")
            assert bool(spread) == (replicas(stack, name) > 1), (stack, name)
            if resource.type == DEPLOYMENT:
                if name in replicated(stack):
                    assert "replicas" not in resource.inputs["spec"], (stack, name)  # the HPA owns it
                else:
                    assert resource.inputs["spec"]["replicas"] == replicas(stack, name), (stack, name)


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
    on = enabled(run.stack)
    expected = {(spec.name, server) for spec in CATALOG.services for server in spec.talks_to if {spec.name, server} <= on}
    egress, ingress = _policy_edges(run)
    assert expected
    assert egress == ingress == expected


def test_namespace_is_default_deny_with_dns(run):
    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in run.of_type(NETWORK_POLICY)}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns_ports = {(p["protocol"], p["port"]) for p in policies["dns-egress"]["egress"][0]["ports"]}
    assert dns_ports == {("UDP", 53), ("TCP", 53)}
    assert set(policies) == {"default-deny", "dns-egress", *(f"allow-{name}" for name in workloads(run))}


def test_egress_leaves_the_cluster_only_to_a_service_replaced_from_config(runs):
    found = {}
    for stack, run in runs.items():
        on = enabled(stack)
        expected = {
            (f"allow-{spec.name}", SPECS[server].port)
            for spec in CATALOG.services if spec.name in on
            for server in spec.talks_to if server not in on and CATALOG.replacement(server)
        }
        found[stack] = {
            (p.inputs["metadata"]["name"], rule["ports"][0]["port"])
            for p in run.of_type(NETWORK_POLICY)
            for rule in p.inputs["spec"].get("egress", [])
            if any("ipBlock" in peer for peer in rule["to"])
        }
        assert found[stack] == expected, stack
    assert found["prod"]  # prod replaces a service from config (Pulumi.prod.yaml)


def test_ingress_routes_to_the_configured_public_service_only(run):
    routed = resolved(run.stack).settings.kubernetes.ingress.service
    assert SPECS[routed].public
    (ingress,) = run.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    paths = ingress.inputs["spec"]["rules"][0]["http"]["paths"]
    assert [(p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"]) for p in paths] == [(routed, SPECS[routed].port)]
    by_name = {name: s.inputs["spec"] for name, s in services(run).items()}
    assert all(spec["type"] == "ClusterIP" for spec in by_name.values())
    assert set(by_name) == {name for name in enabled(run.stack) if SPECS[name].port and SPECS[name].long_running}


def test_outputs_name_the_namespace_url_and_images(runs):
    assert runs["staging"].outputs["kubernetes"]["url"] == "https://staging.dockyard.example.com"
    assert runs["dev"].outputs["kubernetes"]["namespace"] == "dockyard-dev"
    assert set(runs["prod"].outputs["kubernetes"]["images"]) == set(workloads(runs["prod"]))
    assert PROD_SOURCE_STACK in runs["prod"].outputs["promotedFrom"].values()
