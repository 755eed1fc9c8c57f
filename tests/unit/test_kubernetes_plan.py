"""The pure Kubernetes plan functions: each manifest from a ServiceSpec and settings."""

from __future__ import annotations

import pytest

from components import kubernetes_env as kenv
from components.catalog import CATALOG, by_name, enabled_catalog
from components.settings import SettingsError
from components.stack_config import validate
from tests.harness import PROJECT_DIR, merge, stack_config

SPECS = by_name(CATALOG)
PROD_SECRETS = {"databaseUrl"}


def settings_for(stack: str, overrides: dict | None = None, secrets: set[str] = frozenset()):
    raw = merge(stack_config(stack), overrides or {})
    return validate(stack, raw, set(secrets), PROJECT_DIR)


def inputs(image: str = "registry.example.com/x@sha256:" + "a" * 64) -> kenv.WorkloadInputs:
    return kenv.WorkloadInputs(image=image, image_pull_policy="Always", config_map="cm-1", secret="secret-1")


@pytest.fixture(scope="module")
def staging():
    return settings_for("staging")


@pytest.fixture(scope="module")
def prod():
    return settings_for("prod", secrets=PROD_SECRETS)


def the_container(manifest: dict) -> dict:
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    return container


# --- quantities ---------------------------------------------------------------------------

@pytest.mark.parametrize(("limit", "request_"), [("512Mi", "256Mi"), ("1Gi", "512Mi"), ("1G", "488281Ki"), ("7Mi", "3584Ki")])
def test_memory_request_is_half_the_limit(limit, request_):
    assert kenv.half_memory(limit) == request_


@pytest.mark.parametrize(("limit", "request_"), [("500m", "250m"), ("1", "500m"), ("1.5", "750m"), ("1m", "1m")])
def test_cpu_request_is_half_the_limit(limit, request_):
    assert kenv.half_cpu(limit) == request_


# --- security ------------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["backend", "frontend", "postgres", "redis", "migrations"])
def test_every_workload_meets_the_restricted_profile(staging, service):
    spec = SPECS[service]
    pod = kenv.pod_template(spec, staging, inputs())["spec"]
    container = pod["containers"][0]
    uid, gid = (int(part) for part in spec.user.split(":"))
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid,
        "fsGroup": spec.fs_group or gid, "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True and context["runAsUser"] == uid != 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == service


def test_each_writable_path_is_an_empty_dir_with_a_size_limit():
    spec = SPECS["frontend"]
    volumes, mounts = kenv.writable_volumes(spec)
    assert [m["mountPath"] for m in mounts] == ["/tmp", "/app/.next/cache"]
    by_name_ = {v["name"]: v["emptyDir"] for v in volumes}
    assert by_name_["writable-tmp"] == {"sizeLimit": "64Mi", "medium": "Memory"}
    assert by_name_["writable-app-next-cache"] == {"sizeLimit": "64Mi"}


def test_databases_carry_their_uid_opt_out_as_an_annotation(staging):
    manifest = kenv.stateful_set_manifest(SPECS["postgres"], staging, inputs())
    reason = manifest["metadata"]["annotations"]["opt-out.dockyard.dev/upstream-uid"]
    assert "999" in reason
    assert manifest["spec"]["template"]["metadata"]["annotations"] == manifest["metadata"]["annotations"]
    assert "annotations" not in kenv.deployment_manifest(SPECS["backend"], staging, inputs())["metadata"]


def test_namespace_enforces_audits_and_warns_restricted(staging):
    labels = kenv.namespace_manifest(staging)["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_service_accounts_do_not_mount_tokens(staging):
    assert kenv.service_account_manifest(SPECS["backend"], staging)["automountServiceAccountToken"] is False


# --- probes, lifecycle, resources ----------------------------------------------------------

def test_backend_probes_use_its_health_paths():
    probes = kenv.probes(SPECS["backend"])
    assert probes["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert probes["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert probes["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert probes["startupProbe"]["failureThreshold"] * probes["startupProbe"]["periodSeconds"] >= 60


def test_frontend_probes_use_its_health_route():
    probes = kenv.probes(SPECS["frontend"])
    assert {p["httpGet"]["path"] for p in probes.values()} == {"/api/health"}


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_databases_are_probed_with_their_exec_check(service):
    probes = kenv.probes(SPECS[service])
    assert set(probes) == {"startupProbe", "readinessProbe", "livenessProbe"}
    for probe in probes.values():
        assert probe["exec"] == {"command": list(SPECS[service].health.command)}


def test_jobs_have_no_probes_and_no_pre_stop(staging):
    container = the_container(kenv.job_manifest(SPECS["migrations"], staging, inputs(), "migrations-x"))
    assert not {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"} & set(container)


def test_pre_stop_sleeps_and_the_grace_period_covers_it_and_the_app(staging):
    manifest = kenv.deployment_manifest(SPECS["backend"], staging, inputs())
    container = the_container(manifest)
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = manifest["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert sleep > 0 and grace > sleep + kenv.APP_GRACEFUL_SECONDS


def test_resources_request_half_of_the_catalog_limits(staging):
    container = the_container(kenv.deployment_manifest(SPECS["backend"], staging, inputs()))
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_deployments_roll_without_losing_capacity(staging):
    strategy = kenv.deployment_manifest(SPECS["frontend"], staging, inputs())["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


# --- env and secrets -----------------------------------------------------------------------

def test_plain_env_uses_service_names_and_ports():
    catalog = CATALOG
    assert kenv.plain_env(SPECS["backend"], catalog) == {"REDIS_URL": "redis://redis:6379/0", "LOG_LEVEL": "info", "CACHE_TTL_SECONDS": "30"}
    assert kenv.plain_env(SPECS["frontend"], catalog)["BACKEND_URL"] == "http://backend:8000"


def test_secret_env_is_mounted_as_files_named_by_file_variables(staging):
    manifest = kenv.deployment_manifest(SPECS["backend"], staging, inputs())
    container = the_container(manifest)
    assert container["env"] == [{"name": "DATABASE_URL_FILE", "value": "/run/secrets/dockyard/DATABASE_URL"}]
    assert {"name": "secrets", "mountPath": "/run/secrets/dockyard", "readOnly": True} in container["volumeMounts"]
    volumes = {v["name"]: v for v in manifest["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secrets"]["secret"] == {"secretName": "secret-1", "defaultMode": 0o440}
    assert container["envFrom"] == [{"configMapRef": {"name": "cm-1"}}]
    assert not any("DATABASE_URL" == e["name"] for e in container["env"])


def test_postgres_reads_its_password_from_a_file(staging):
    container = the_container(kenv.stateful_set_manifest(SPECS["postgres"], staging, inputs()))
    assert {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/dockyard/POSTGRES_PASSWORD"} in container["env"]


def test_secret_manifest_uses_string_data(staging):
    manifest = kenv.secret_manifest(SPECS["backend"], staging, "backend-secrets-x", {"DATABASE_URL": "v"})
    assert manifest["stringData"] == {"DATABASE_URL": "v"} and "data" not in manifest


def test_content_names_change_with_the_content():
    assert kenv.content_name("backend-env", {"A": "1"}) == kenv.content_name("backend-env", {"A": "1"})
    assert kenv.content_name("backend-env", {"A": "1"}) != kenv.content_name("backend-env", {"A": "2"})


def test_secret_names_change_with_the_values_and_are_keyed_by_the_salt():
    values = {"DATABASE_URL": "postgresql+psycopg://todo:hunter2@db:5432/todo"}
    name = kenv.secret_name("backend-secrets", values, "salt-a")
    assert name == kenv.secret_name("backend-secrets", values, "salt-a")
    assert name != kenv.secret_name("backend-secrets", {"DATABASE_URL": "other"}, "salt-a")  # pods roll
    assert name != kenv.secret_name("backend-secrets", values, "salt-b")
    # Nothing derived from the value alone: the unkeyed hash of the same content differs.
    assert name != kenv.content_name("backend-secrets", values)
    assert name.startswith("backend-secrets-") and len(name) == len("backend-secrets-") + 10


# --- stateful sets, jobs --------------------------------------------------------------------

def test_stateful_sets_claim_storage_from_the_catalog_state(staging):
    settings = settings_for("staging", {"kubernetes": {"storageClass": "fast-ssd"}})
    manifest = kenv.stateful_set_manifest(SPECS["postgres"], settings, inputs())
    (claim,) = manifest["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in the_container(manifest)["volumeMounts"]
    no_class = kenv.stateful_set_manifest(SPECS["postgres"], staging, inputs())
    assert "storageClassName" not in no_class["spec"]["volumeClaimTemplates"][0]["spec"]


def test_job_is_bounded_and_cleaned_up(staging):
    spec = kenv.job_manifest(SPECS["migrations"], staging, inputs(), "migrations-x")["spec"]
    assert spec["backoffLimit"] >= 1 and spec["activeDeadlineSeconds"] > 0 and spec["ttlSecondsAfterFinished"] > 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_name_follows_the_image():
    first = kenv.job_name("migrations", "r/backend@sha256:" + "a" * 64)
    assert first == kenv.job_name("migrations", "r/backend@sha256:" + "a" * 64)
    assert first != kenv.job_name("migrations", "r/backend@sha256:" + "b" * 64)
    assert first.startswith("migrations-") and len(first) <= 63


# --- scaling --------------------------------------------------------------------------------

def test_one_replica_has_no_autoscaler_and_sets_replicas(staging):
    settings = settings_for("staging", {"services": {"frontend": {"replicas": 1}}})
    assert not kenv.has_autoscaler(SPECS["frontend"], settings)
    manifest = kenv.deployment_manifest(SPECS["frontend"], settings, inputs())
    assert manifest["spec"]["replicas"] == 1
    assert "topologySpreadConstraints" not in manifest["spec"]["template"]["spec"]


def test_several_replicas_get_hpa_pdb_and_spread(prod):
    spec = SPECS["backend"]
    assert kenv.has_autoscaler(spec, prod)
    hpa = kenv.hpa_manifest(spec, prod)["spec"]
    assert hpa["minReplicas"] == 3 and hpa["maxReplicas"] == 9
    assert hpa["metrics"][0]["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    assert kenv.pdb_manifest(spec, prod)["spec"]["maxUnavailable"] == 1
    manifest = kenv.deployment_manifest(spec, prod, inputs())
    assert "replicas" not in manifest["spec"]  # the HPA owns it
    spread = manifest["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


# --- services and ingress -------------------------------------------------------------------

def test_services_are_cluster_ip_on_the_catalog_port(staging):
    manifest = kenv.service_manifest(SPECS["postgres"], staging)
    assert manifest["spec"]["type"] == "ClusterIP"
    assert manifest["spec"]["ports"] == [{"name": "tcp", "port": 5432, "targetPort": "tcp", "protocol": "TCP"}]


def test_ingress_routes_everything_to_the_frontend_with_tls(staging):
    spec = kenv.ingress_manifest(SPECS["frontend"], staging)["spec"]
    (rule,) = spec["rules"]
    assert rule["host"] == "staging.dockyard.example.com"
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "frontend", "port": {"number": 3000}}}}]
    assert spec["tls"] == [{"hosts": ["staging.dockyard.example.com"], "secretName": "dockyard-staging-tls"}]
    assert spec["ingressClassName"] == "nginx"


# --- network policy -------------------------------------------------------------------------

def edges_from_policies(policies: list[dict]) -> tuple[set, set]:
    """(client, server) pairs the policies allow, read from the egress and ingress sides."""
    egress, ingress = set(), set()
    for policy in policies:
        me = policy["spec"]["podSelector"].get("matchLabels", {}).get(kenv.NAME_LABEL)
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "podSelector" in peer:
                    egress.add((me, peer["podSelector"]["matchLabels"][kenv.NAME_LABEL]))
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "podSelector" in peer:
                    ingress.add((peer["podSelector"]["matchLabels"][kenv.NAME_LABEL], me))
    return egress, ingress


@pytest.mark.parametrize(("stack", "secrets"), [("staging", set()), ("prod", PROD_SECRETS)])
def test_network_policies_allow_exactly_the_catalog_edges(stack, secrets):
    from components.catalog import talks_to_edges

    settings = settings_for(stack, secrets=secrets)
    catalog = enabled_catalog(CATALOG, settings)
    policies = [kenv.network_policy_manifest(spec, settings, catalog) for spec in catalog]
    egress, ingress = edges_from_policies(policies)
    assert egress == ingress == talks_to_edges(catalog)


def test_server_ports_are_the_only_ports_opened(staging):
    catalog = enabled_catalog(CATALOG, staging)
    policy = kenv.network_policy_manifest(SPECS["backend"], staging, catalog)
    assert policy["spec"]["ingress"] == [{"from": [kenv._pod_peer("frontend")], "ports": [{"protocol": "TCP", "port": 8000}]}]
    assert {rule["ports"][0]["port"] for rule in policy["spec"]["egress"]} == {5432, 6379}


def test_only_the_routed_service_admits_the_ingress_controller(staging):
    catalog = enabled_catalog(CATALOG, staging)
    selector = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    for spec in catalog:
        rules = kenv.network_policy_manifest(spec, staging, catalog)["spec"].get("ingress", [])
        admits = any(selector in rule["from"] for rule in rules)
        assert admits == (spec.name == "frontend"), spec.name


def test_external_database_gets_egress_on_its_port_to_the_configured_cidr():
    settings = settings_for("prod", {"kubernetes": {"externalDatabaseCidr": "10.20.0.0/16"}}, PROD_SECRETS)
    catalog = enabled_catalog(CATALOG, settings)
    for service in ("backend", "migrations"):
        egress = kenv.network_policy_manifest(by_name(catalog)[service], settings, catalog)["spec"]["egress"]
        assert {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]} in egress
    frontend = kenv.network_policy_manifest(by_name(catalog)["frontend"], settings, catalog)["spec"]["egress"]
    assert not any("ipBlock" in peer for rule in frontend for peer in rule["to"])


def test_default_deny_and_dns(staging):
    deny = kenv.default_deny_manifest(staging)["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = kenv.dns_egress_manifest(staging)["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
    assert dns["egress"][0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert dns["egress"][0]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]


# --- provider and images --------------------------------------------------------------------

def test_provider_uses_the_context_namespace_server_side_apply_and_gitops_directory():
    # pulumi-kubernetes' CheckConfig refuses a context together with renderYamlToDirectory.
    settings = settings_for("staging", {"kubernetes": {"renderYamlToDirectory": "rendered/staging"}})
    assert kenv.provider_args(settings) == {
        "namespace": "dockyard-staging", "enable_server_side_apply": True,
        "render_yaml_to_directory": "rendered/staging",
    }
    assert kenv.provider_args(settings_for("staging")) == {
        "namespace": "dockyard-staging", "enable_server_side_apply": True, "context": "staging",
    }


def test_pull_policy_never_for_dev_built_images_always_elsewhere(staging):
    dev = settings_for("dev", {"kubernetes": {"enabled": True}})
    assert kenv.image_pull_policy(SPECS["backend"], dev) == "Never"
    assert kenv.image_pull_policy(SPECS["postgres"], dev) == "IfNotPresent"
    assert kenv.image_pull_policy(SPECS["backend"], staging) == "Always"


# --- Kubernetes-target settings rules -------------------------------------------------------

def test_prod_needs_two_replicas_of_each_public_service(prod):
    from dataclasses import replace

    from components.settings import ServiceSettings

    weak = replace(prod, services={**prod.services, "frontend": ServiceSettings(replicas=1)})
    problems = kenv.kubernetes_problems(weak)
    assert [p.key for p in problems] == ["services.frontend.replicas"]
    assert "at least 2 replicas" in problems[0].allowed


def rejected(stack: str, overrides: dict) -> list:
    """The problems validate() reports (Kubernetes rules run in the same single pass)."""
    with pytest.raises(SettingsError) as caught:
        settings_for(stack, overrides)
    return caught.value.problems


def test_ingress_service_must_be_public(staging):
    problems = rejected("staging", {"kubernetes": {"ingress": {"service": "postgres"}}})
    assert [p.key for p in problems] == ["kubernetes.ingress.service"]
    assert "backend, frontend" in problems[0].allowed


def test_hot_reload_and_minikube_do_not_mix():
    problems = rejected("dev", {"dev": {"hotReload": True}, "kubernetes": {"enabled": True}})
    assert [p.key for p in problems] == ["dev.hotReload"]


def test_docker_only_dev_has_no_kubernetes_problems():
    assert kenv.kubernetes_problems(settings_for("dev", {"services": {"frontend": {"replicas": 1}}})) == []


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
