"""The pure Kubernetes plan functions: each manifest from a resolved service and settings.

What to expect is derived from the project's catalog (testing.harness.CATALOG) and the
stack's settings, never from the reference app's service names, edges or ports: a team
that edits catalog.yaml keeps these tests green. Tests about one kind of service
(one-shot, stateful, public...) run once per catalog service of that kind.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from components.config.catalog import ServiceSpec
from components.config.settings import Settings, SettingsError
from components.core.labels import NAME_LABEL, PART_OF_LABEL
from components.core.quantities import half_cpu, half_memory
from components.plan.resolve import ResolvedStack, Service, resolve
from components.plan.stack_rules import kubernetes_problems
from components.plan.validate import validate
from components.plan.view import StackView
from components.targets.kubernetes import network as knet
from components.targets.kubernetes import objects as kobj
from components.targets.kubernetes import pod as kpod
from components.targets.kubernetes.environment import provider_args
from testing.harness import CATALOG, PROJECT_DIR, merge, outside_inputs, stack_config

SPECS = CATALOG.by_name()
# The config secrets prod is run with (an external database's URL, for the reference app).
PROD_SECRETS = frozenset(outside_inputs("prod")["secrets"])
SECRET_DIR = "/run/secrets/dockyard"  # where the apps read <NAME>_FILE from

# What a cluster can run: all but the monitoring service, which runs with dev.monitoring on the
# docker target only (a cluster has its own Prometheus, which reads the prometheus.io annotations).
ON_KUBERNETES = [spec for spec in CATALOG.services if spec.monitoring is None]
NAMES = [spec.name for spec in ON_KUBERNETES]
ONE_SHOT = [spec.name for spec in ON_KUBERNETES if spec.one_shot]
LONG_RUNNING = [spec.name for spec in ON_KUBERNETES if spec.long_running]
STATEFUL = [spec.name for spec in ON_KUBERNETES if spec.state is not None]
DEPLOYED = [spec.name for spec in ON_KUBERNETES if spec.long_running and spec.state is None]  # Deployments
WITH_PORT = [spec.name for spec in ON_KUBERNETES if spec.port is not None]
NOT_PUBLIC = [spec.name for spec in ON_KUBERNETES if not spec.public]
REPLACEABLE = [spec.name for spec in ON_KUBERNETES if CATALOG.replacement(spec.name)]


def settings_for(stack: str, overrides: dict | None = None, secrets: set[str] = frozenset()) -> Settings:
    raw = merge(stack_config(stack), overrides or {})
    return validate(stack, raw, set(secrets), PROJECT_DIR, CATALOG)


def inputs(image: str = "registry.example.com/x@sha256:" + "a" * 64) -> kpod.WorkloadInputs:
    return kpod.WorkloadInputs(image=image, image_pull_policy="Always", config_map="cm-1", secret="secret-1")


@pytest.fixture(scope="module")
def staging() -> Settings:
    return settings_for("staging")


@pytest.fixture(scope="module")
def prod() -> Settings:
    return settings_for("prod", secrets=PROD_SECRETS)


@pytest.fixture(scope="module")
def every() -> ResolvedStack:
    """Staging with every catalog service enabled: each service resolved once."""
    settings = settings_for("staging", {"services": {name: {"enabled": True} for name in NAMES}})
    stack = resolve(CATALOG, settings)
    assert set(stack.services) == set(NAMES)
    return stack


def enabled(settings: Settings) -> set[str]:
    return {name for name in NAMES if settings.service(name).enabled}


def workload_manifest(service: Service, settings: Settings, workload_inputs: kpod.WorkloadInputs | None = None) -> dict:
    """The workload the service runs as: a Job (one-shot), a StatefulSet (state) or a Deployment."""
    workload_inputs = workload_inputs or inputs()
    if service.spec.one_shot:
        return kobj.job_manifest(service, settings, workload_inputs, f"{service.name}-x")
    if service.spec.state is not None:
        return kobj.stateful_set_manifest(service, settings, workload_inputs)
    return kobj.deployment_manifest(service, settings, workload_inputs)


def the_container(manifest: dict) -> dict:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container


def user_ids(spec: ServiceSpec) -> tuple[int, int]:
    uid, _, gid = spec.user.partition(":")
    return int(uid), int(gid or uid)


def pod_peer(service: str) -> dict:
    return {"podSelector": {"matchLabels": {NAME_LABEL: service, PART_OF_LABEL: "dockyard"}}}


def filled(template: str) -> str:
    """A catalog env template with hosts (the service's name) and ports (its catalog port)."""
    template = re.sub(r"\{host:([a-z0-9-]+)\}", lambda m: m[1], template)
    return re.sub(r"\{port:([a-z0-9-]+)\}", lambda m: str(SPECS[m[1]].port), template)


# --- quantities ---------------------------------------------------------------------------

@pytest.mark.parametrize(("limit", "request_"), [("512Mi", "256Mi"), ("1Gi", "512Mi"), ("1G", "488281Ki"), ("7Mi", "3584Ki")])
def test_memory_request_is_half_the_limit(limit, request_):
    assert half_memory(limit) == request_


@pytest.mark.parametrize(("limit", "request_"), [("500m", "250m"), ("1", "500m"), ("1.5", "750m"), ("1m", "1m")])
def test_cpu_request_is_half_the_limit(limit, request_):
    assert half_cpu(limit) == request_


# --- security ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_workload_meets_the_restricted_profile(every, name):
    service = every.services[name]
    spec = service.spec
    pod = kpod.pod_template(service, every.settings, inputs())["spec"]
    container = pod["containers"][0]
    uid, gid = user_ids(spec)
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid,
        "fsGroup": spec.fs_group if spec.fs_group is not None else gid, "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True and context["runAsUser"] == uid != 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == name


@pytest.mark.parametrize("name", NAMES)
def test_each_writable_path_is_an_empty_dir_with_a_size_limit(name):
    spec = SPECS[name]
    volumes, mounts = kpod.writable_volumes(spec)
    assert [m["mountPath"] for m in mounts] == list(spec.writable_paths)
    assert [m["name"] for m in mounts] == [v["name"] for v in volumes]
    assert len({v["name"] for v in volumes}) == len(volumes)
    for path, volume in zip(spec.writable_paths, volumes, strict=True):
        expected = {"sizeLimit": spec.writable_size, **({"medium": "Memory"} if path == "/tmp" else {})}
        assert volume["emptyDir"] == expected, path


def test_writable_volumes_are_named_after_their_paths():
    spec = CATALOG.services[0].model_copy(update={"writable_paths": ("/tmp", "/app/.next/cache")})
    volumes, mounts = kpod.writable_volumes(spec)
    assert [m["mountPath"] for m in mounts] == ["/tmp", "/app/.next/cache"]
    by_name_ = {v["name"]: v["emptyDir"] for v in volumes}
    assert by_name_ == {"writable-tmp": {"sizeLimit": "64Mi", "medium": "Memory"}, "writable-app-next-cache": {"sizeLimit": "64Mi"}}


@pytest.mark.parametrize("name", NAMES)
def test_opt_outs_are_carried_as_annotations_with_their_reasons(every, name):
    service = every.services[name]
    manifest = workload_manifest(service, every.settings)
    expected = {f"opt-out.dockyard.dev/{key}": reason for key, reason in service.spec.opt_outs.items()}
    # The pod also says where its metrics are, when the catalog declares them (test_dev_loop.py).
    scraped = {key: value for key, value in kpod.metrics_annotations(service.spec).items()}
    if expected:
        assert manifest["metadata"]["annotations"] == expected
        assert all(reason.strip() for reason in expected.values())
    else:
        assert "annotations" not in manifest["metadata"]
    if expected or scraped:
        assert manifest["spec"]["template"]["metadata"]["annotations"] == {**expected, **scraped}
    else:
        assert "annotations" not in manifest["spec"]["template"]["metadata"]


def test_namespace_enforces_audits_and_warns_restricted(staging):
    labels = kobj.namespace_manifest(staging)["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("name", NAMES)
def test_service_accounts_do_not_mount_tokens(staging, name):
    manifest = kobj.service_account_manifest(SPECS[name], staging)
    assert manifest["automountServiceAccountToken"] is False
    assert manifest["metadata"]["name"] == name


# --- probes, lifecycle, resources ----------------------------------------------------------

@pytest.mark.parametrize("name", LONG_RUNNING)
def test_probes_are_the_catalog_readiness_and_liveness_checks(name):
    health = SPECS[name].health
    probes = kpod.probes(SPECS[name])
    port = "http" if health.liveness_path or health.readiness_path else "tcp"

    def handler(check) -> dict:
        if check.path is not None:
            return {"httpGet": {"path": check.path, "port": port}}
        return {"exec": {"command": list(check.command)}}

    assert {key: probes["readinessProbe"][key] for key in handler(health.readiness)} == handler(health.readiness)
    if health.liveness is None:
        assert set(probes) == {"readinessProbe"}
        return
    assert set(probes) == {"startupProbe", "readinessProbe", "livenessProbe"}
    live = handler(health.liveness)
    assert {key: probes["livenessProbe"][key] for key in live} == live
    assert {key: probes["startupProbe"][key] for key in live} == live


@pytest.mark.parametrize("name", ONE_SHOT)
def test_jobs_have_no_probes_and_no_pre_stop(every, name):
    container = the_container(kobj.job_manifest(every.services[name], every.settings, inputs(), f"{name}-x"))
    assert not {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"} & set(container)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_pre_stop_sleeps_and_the_grace_period_covers_it_and_the_app(every, name):
    manifest = workload_manifest(every.services[name], every.settings)
    container = the_container(manifest)
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = manifest["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert sleep > 0 and grace > sleep + kpod.APP_GRACEFUL_SECONDS


@pytest.mark.parametrize("name", NAMES)
def test_resources_request_half_of_the_catalog_limits(every, name):
    container = the_container(workload_manifest(every.services[name], every.settings))
    limits = SPECS[name].resources
    storage = SPECS[name].ephemeral_storage
    assert container["resources"] == {
        "requests": {"cpu": half_cpu(limits.cpu), "memory": half_memory(limits.memory), "ephemeral-storage": half_memory(storage)},
        "limits": {"cpu": limits.cpu, "memory": limits.memory, "ephemeral-storage": storage},
    }


def test_resource_overrides_of_the_stack_reach_the_container():
    name = NAMES[0]
    stack = resolve(CATALOG, settings_for("staging", {"services": {name: {"enabled": True, "memory": "1Gi", "cpu": "2"}}}))
    container = the_container(workload_manifest(stack.services[name], stack.settings))
    assert container["resources"]["requests"] | {"ephemeral-storage": None} == {"cpu": "1000m", "memory": "512Mi", "ephemeral-storage": None}
    assert container["resources"]["limits"] | {"ephemeral-storage": None} == {"cpu": "2", "memory": "1Gi", "ephemeral-storage": None}


@pytest.mark.parametrize("name", DEPLOYED)
def test_deployments_roll_without_losing_capacity(every, name):
    strategy = kobj.deployment_manifest(every.services[name], every.settings, inputs())["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


# --- env and secrets -----------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_plain_env_uses_service_names_and_ports(every, name):
    spec, service = SPECS[name], every.services[name]
    plain = {key: value for key, value in spec.env.items() if "{secret:" not in value}
    assert dict(service.plain_env) == {key: filled(value) for key, value in plain.items()}
    assert not any(re.search(r"\{(host|port):", value) for value in service.plain_env.values())
    secret = {key: value for key, value in spec.env.items() if "{secret:" in value}
    assert dict(service.secret_env) == {key: filled(value) for key, value in secret.items()}


@pytest.mark.parametrize("name", NAMES)
def test_secret_env_is_mounted_as_files_named_by_file_variables(every, name):
    service = every.services[name]
    manifest = workload_manifest(service, every.settings)
    container = the_container(manifest)
    volumes = {v["name"]: v for v in manifest["spec"]["template"]["spec"]["volumes"]}
    secret_names = SPECS[name].secret_env_names()
    mount = {"name": "secrets", "mountPath": SECRET_DIR, "readOnly": True}
    assert container["envFrom"] == [{"configMapRef": {"name": "cm-1"}}]
    if secret_names:
        assert container["env"] == [{"name": f"{key}_FILE", "value": f"{SECRET_DIR}/{key}"} for key in secret_names]
        assert mount in container["volumeMounts"]
        assert volumes["secrets"]["secret"] == {"secretName": "secret-1", "defaultMode": 0o440}
        assert not {e["name"] for e in container["env"]} & set(secret_names)
    else:
        assert "env" not in container
        assert mount not in container["volumeMounts"] and "secrets" not in volumes


def test_secret_manifest_uses_string_data(staging):
    manifest = kobj.secret_manifest(CATALOG.services[0], staging, "svc-secrets-x", {"A_SECRET": "v"})
    assert manifest["stringData"] == {"A_SECRET": "v"} and "data" not in manifest


def test_content_names_change_with_the_content():
    assert kobj.content_name("svc-env", {"A": "1"}) == kobj.content_name("svc-env", {"A": "1"})
    assert kobj.content_name("svc-env", {"A": "1"}) != kobj.content_name("svc-env", {"A": "2"})


def test_secret_names_change_with_the_values_and_are_keyed_by_the_salt():
    values = {"DATABASE_URL": "postgresql+psycopg://todo:hunter2@db:5432/todo"}
    name = kobj.secret_name("svc-secrets", values, "salt-a")
    assert name == kobj.secret_name("svc-secrets", values, "salt-a")
    assert name != kobj.secret_name("svc-secrets", {"DATABASE_URL": "other"}, "salt-a")  # pods roll
    assert name != kobj.secret_name("svc-secrets", values, "salt-b")
    # Nothing derived from the value alone: the unkeyed hash of the same content differs.
    assert name != kobj.content_name("svc-secrets", values)
    assert name.startswith("svc-secrets-") and len(name) == len("svc-secrets-") + 10


# --- stateful sets, jobs --------------------------------------------------------------------

@pytest.mark.parametrize("name", STATEFUL)
def test_stateful_sets_claim_storage_from_the_catalog_state(every, name):
    state = SPECS[name].state
    settings = settings_for("staging", {"kubernetes": {"storageClass": "fast-ssd"}, "services": {name: {"enabled": True}}})
    manifest = kobj.stateful_set_manifest(resolve(CATALOG, settings).services[name], settings, inputs())
    (claim,) = manifest["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == state.size
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert {"name": "data", "mountPath": state.path} in the_container(manifest)["volumeMounts"]
    no_class = kobj.stateful_set_manifest(every.services[name], every.settings, inputs())
    assert "storageClassName" not in no_class["spec"]["volumeClaimTemplates"][0]["spec"]


@pytest.mark.parametrize("name", ONE_SHOT)
def test_job_is_bounded_and_cleaned_up(every, name):
    spec = kobj.job_manifest(every.services[name], every.settings, inputs(), f"{name}-x")["spec"]
    assert spec["backoffLimit"] >= 1 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] > 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_name_follows_the_image():
    first = kobj.job_name("a-job", "r/app@sha256:" + "a" * 64)
    assert first == kobj.job_name("a-job", "r/app@sha256:" + "a" * 64)
    assert first != kobj.job_name("a-job", "r/app@sha256:" + "b" * 64)
    assert first.startswith("a-job-") and len(first) <= 63
    longest = "a" * 40  # the longest service name the catalog allows
    assert len(kobj.job_name(longest, "r/app@sha256:" + "a" * 64)) <= 63


# --- scaling --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DEPLOYED)
def test_one_replica_has_no_autoscaler_and_sets_replicas(name):
    settings = settings_for("staging", {"services": {name: {"enabled": True, "replicas": 1}}})
    service = resolve(CATALOG, settings).services[name]
    assert not kobj.has_autoscaler(service)
    manifest = kobj.deployment_manifest(service, settings, inputs())
    assert manifest["spec"]["replicas"] == 1
    assert "topologySpreadConstraints" not in manifest["spec"]["template"]["spec"]


def test_several_replicas_get_hpa_pdb_and_spread(prod):
    stack = resolve(CATALOG, prod)
    replicated = [s for s in stack.services.values() if s.spec.long_running and s.spec.state is None and prod.service(s.name).replicas > 1]
    assert replicated  # prod runs its public services with at least 2 replicas
    for service in replicated:
        replicas = prod.service(service.name).replicas
        assert kobj.has_autoscaler(service), service.name
        hpa = kobj.hpa_manifest(service, prod)["spec"]
        assert hpa["scaleTargetRef"]["name"] == service.name
        assert hpa["minReplicas"] == replicas and hpa["maxReplicas"] == 3 * replicas
        assert hpa["metrics"][0]["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
        assert kobj.pdb_manifest(service.spec, prod)["spec"]["maxUnavailable"] == 1
        manifest = kobj.deployment_manifest(service, prod, inputs())
        assert "replicas" not in manifest["spec"]  # the HPA owns it
        spread = manifest["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for service in stack.services.values():
        if service not in replicated:
            assert not kobj.has_autoscaler(service), service.name


# --- services and ingress -------------------------------------------------------------------

@pytest.mark.parametrize("name", WITH_PORT)
def test_services_are_cluster_ip_on_the_catalog_port(staging, name):
    spec = SPECS[name]
    manifest = kobj.service_manifest(spec, staging)
    port_name = "http" if spec.health and (spec.health.liveness_path or spec.health.readiness_path) else "tcp"
    assert manifest["spec"]["type"] == "ClusterIP"
    assert manifest["spec"]["ports"] == [{"name": port_name, "port": spec.port, "targetPort": port_name, "protocol": "TCP"}]
    assert manifest["spec"]["selector"] == {NAME_LABEL: name, PART_OF_LABEL: "dockyard"}


def test_ingress_routes_everything_to_the_routed_service_with_tls(staging):
    routed = SPECS[staging.kubernetes.ingress.service]
    assert routed.public and routed.port
    spec = kobj.ingress_manifest(routed, staging)["spec"]
    (rule,) = spec["rules"]
    assert rule["host"] == "staging.dockyard.example.com"
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": routed.name, "port": {"number": routed.port}}}}]
    assert spec["tls"] == [{"hosts": ["staging.dockyard.example.com"], "secretName": "dockyard-staging-tls"}]
    assert spec["ingressClassName"] == "nginx"


# --- network policy -------------------------------------------------------------------------

def catalog_edges(settings: Settings) -> set[tuple[str, str]]:
    """(client, server) for each talksTo of the catalog between two enabled services."""
    on = enabled(settings)
    return {(spec.name, server) for spec in CATALOG.services for server in spec.talks_to if {spec.name, server} <= on}


def edges_from_policies(policies: list[dict]) -> tuple[set, set]:
    """(client, server) pairs the policies allow, read from the egress and ingress sides."""
    egress, ingress = set(), set()
    for policy in policies:
        me = policy["spec"]["podSelector"].get("matchLabels", {}).get(NAME_LABEL)
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "podSelector" in peer:
                    egress.add((me, peer["podSelector"]["matchLabels"][NAME_LABEL]))
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "podSelector" in peer:
                    ingress.add((peer["podSelector"]["matchLabels"][NAME_LABEL], me))
    return egress, ingress


@pytest.mark.parametrize(("stack", "secrets"), [("staging", set()), ("prod", PROD_SECRETS)])
def test_network_policies_allow_exactly_the_catalog_edges(stack, secrets):
    settings = settings_for(stack, secrets=secrets)
    resolved = resolve(CATALOG, settings)
    policies = [knet.network_policy_manifest(service, settings) for service in resolved.services.values()]
    egress, ingress = edges_from_policies(policies)
    expected = catalog_edges(settings)
    assert expected  # the catalog has services that talk to each other
    assert egress == ingress == expected == {(s.name, peer) for s in resolved.services.values() for peer in s.peers}


@pytest.mark.parametrize("name", NAMES)
def test_server_ports_are_the_only_ports_opened(every, name):
    settings = every.settings
    policy = knet.network_policy_manifest(every.services[name], settings)["spec"]
    spec = SPECS[name]
    clients = sorted(other.name for other in CATALOG.services if name in other.talks_to)
    expected_ingress = [{"from": [pod_peer(client)], "ports": [{"protocol": "TCP", "port": spec.port}]} for client in clients]
    pod_ingress = [rule for rule in policy.get("ingress", []) if "podSelector" in rule["from"][0]]
    assert pod_ingress == expected_ingress
    expected_egress = [{"to": [pod_peer(server)], "ports": [{"protocol": "TCP", "port": SPECS[server].port}]} for server in sorted(spec.talks_to)]
    assert policy.get("egress", []) == expected_egress
    assert policy["policyTypes"] == ["Ingress", "Egress"]


def test_only_the_routed_service_admits_the_ingress_controller(staging):
    routed = staging.kubernetes.ingress.service
    selector = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    admitted = set()
    for service in resolve(CATALOG, staging).services.values():
        for rule in knet.network_policy_manifest(service, staging)["spec"].get("ingress", []):
            if selector in rule["from"]:
                assert rule["ports"] == [{"protocol": "TCP", "port": service.spec.port}]
                admitted.add(service.name)
    assert admitted == {routed}


@pytest.mark.parametrize("external", REPLACEABLE)
def test_an_external_service_gets_egress_on_its_port_to_the_configured_cidr(external):
    replacement = CATALOG.replacement(external)
    settings = settings_for(
        "prod", {"kubernetes": {"externalDatabaseCidr": "10.20.0.0/16"}, "services": {external: {"enabled": False}}},
        PROD_SECRETS | {replacement},
    )
    on = enabled(settings)
    expected = {
        (spec.name, SPECS[server].port)
        for spec in CATALOG.services if spec.name in on
        for server in spec.talks_to if server not in on and CATALOG.replacement(server)
    }
    assert expected  # the enabled services that talk to the external one
    found = set()
    for service in resolve(CATALOG, settings).services.values():
        for rule in knet.network_policy_manifest(service, settings)["spec"].get("egress", []):
            blocks = [peer for peer in rule["to"] if "ipBlock" in peer]
            if blocks:
                assert blocks == rule["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
                (port,) = rule["ports"]
                assert port["protocol"] == "TCP"
                found.add((service.name, port["port"]))
    assert found == expected


def test_default_deny_and_dns(staging):
    deny = knet.default_deny_manifest(staging)["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = knet.dns_egress_manifest(staging)["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
    assert dns["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert dns["egress"][0]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]


# --- provider and images --------------------------------------------------------------------

def test_provider_uses_the_context_namespace_server_side_apply_and_gitops_directory():
    # pulumi-kubernetes' CheckConfig refuses a context together with renderYamlToDirectory.
    settings = settings_for("staging", {"kubernetes": {"renderYamlToDirectory": "rendered/staging"}})
    assert provider_args(settings) == {
        "namespace": "dockyard-staging", "enable_server_side_apply": True,
        "render_yaml_to_directory": "rendered/staging",
        "kubeconfig": "",  # blanked: the SDK would take it from $KUBECONFIG, which rendering refuses
    }
    assert provider_args(settings_for("staging")) == {
        "namespace": "dockyard-staging", "enable_server_side_apply": True, "context": "staging",
    }


def test_pull_policy_never_for_dev_built_images_always_elsewhere(every):
    dev = settings_for("dev", {"kubernetes": {"enabled": True}})
    dev_stack = resolve(CATALOG, dev)
    policies = {name: kpod.image_pull_policy(service, dev) for name, service in dev_stack.services.items()}
    assert policies == {name: "IfNotPresent" if SPECS[name].image else "Never" for name in dev_stack.services}
    for service in every.services.values():
        assert kpod.image_pull_policy(service, every.settings) == "Always", service.name


# --- Kubernetes-target settings rules -------------------------------------------------------

PUBLIC_IN_PROD = [
    spec.name for spec in CATALOG.services
    if spec.public and spec.port and settings_for("prod", secrets=PROD_SECRETS).service(spec.name).enabled
]


@pytest.mark.parametrize("name", PUBLIC_IN_PROD)
def test_prod_needs_two_replicas_of_each_public_service(prod, name):
    weak = replace(prod, services={**prod.services, name: prod.service(name).model_copy(update={"replicas": 1})})
    problems = kubernetes_problems(StackView.of(CATALOG, weak))
    assert [p.key for p in problems] == [f"services.{name}.replicas"]
    assert "at least 2 replicas" in problems[0].allowed
    assert kubernetes_problems(StackView.of(CATALOG, prod)) == []


def rejected(stack: str, overrides: dict) -> list:
    """The problems validate() reports (Kubernetes rules run in the same single pass)."""
    with pytest.raises(SettingsError) as caught:
        settings_for(stack, overrides)
    return caught.value.problems


@pytest.mark.parametrize("name", NOT_PUBLIC)
def test_ingress_service_must_be_public(staging, name):
    problems = rejected("staging", {"kubernetes": {"ingress": {"service": name}}})
    assert [p.key for p in problems] == ["kubernetes.ingress.service"]
    public = sorted(spec.name for spec in CATALOG.services if spec.public and spec.port and staging.service(spec.name).enabled)
    assert problems[0].allowed.endswith(", ".join(public))


def test_hot_reload_and_minikube_do_not_mix():
    problems = rejected("dev", {"dev": {"hotReload": True}, "kubernetes": {"enabled": True}})
    assert [p.key for p in problems] == ["dev.hotReload"]


def test_docker_only_dev_has_no_kubernetes_problems():
    public = [spec.name for spec in CATALOG.services if spec.public]
    settings = settings_for("dev", {"services": {name: {"replicas": 1} for name in public}})
    assert not settings.runs_kubernetes
    assert kubernetes_problems(StackView.of(CATALOG, settings)) == []


@pytest.mark.parametrize(("key", "value", "message"), [
    ("externalDatabaseCidr", "10.0.0.1/8", "CIDR block"),
    ("ingressNamespace", "Ingress_NGINX", "DNS label"),
])
def test_bad_kubernetes_settings_are_rejected(key, value, message):
    with pytest.raises(SettingsError, match=message) as caught:
        settings_for("staging", {"kubernetes": {key: value}})
    assert [p.key for p in caught.value.problems] == [f"kubernetes.{key}"]


def test_dev_on_the_kubernetes_target_is_pointed_at_minikube_via_docker():
    problems = rejected("dev", {"target": "kubernetes"})
    assert [p.key for p in problems] == ["target"]
    assert "kubernetes.enabled" in problems[0].allowed
