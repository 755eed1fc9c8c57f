"""The names the program derives from the catalog for what it creates on Kubernetes: one
definition, used by the renderers (targets/kubernetes/pod.py, network.py) and by the catalog's rules
(spec/catalog_rules.py), which refuse a catalog whose derived names collide before anything is
created. Plain functions over strings: no catalog, no Pulumi."""

from __future__ import annotations

import re

# Secrets reach Kubernetes pods as files: <SECRET_DIR>/<NAME>, announced by <NAME>_FILE.
SECRET_DIR = "/run/secrets/dockyard"  # nosec B105 -- a mount path, not a password
SECRET_FILE_SUFFIX = "_FILE"  # nosec B105 -- an env-name suffix, not a password
# Pod volume names the program uses itself; writable paths get `writable-…` names.
STATE_VOLUME = "data"
SECRETS_VOLUME = "secrets"
WRITABLE_VOLUME_PREFIX = "writable-"
# The namespace's own NetworkPolicies, named so no service's can meet them: each service gets
# allow-<service>, and neither starts with "allow-" (the DNS one was allow-dns up to 1.0, which
# kept a service from being named dns; an upgrade replaces it, creating the new one first).
DEFAULT_DENY_POLICY = "default-deny"
DNS_POLICY = "dns-egress"
SERVICE_POLICY_PREFIX = "allow-"
# Where rendered manifests (GitOps) expect each service's secret env: a Secret created in the
# cluster from a secret store, never written into the rendered files.
EXTERNAL_SECRET_SUFFIX = "-secrets"  # nosec B105 -- an object-name suffix, not a password
HEADLESS_SUFFIX = "-headless"
# (kind, name) -> what it is: the objects the program creates for the namespace itself.
PROGRAM_OBJECTS = {
    ("NetworkPolicy", DEFAULT_DENY_POLICY): "the program's own default-deny NetworkPolicy",
    ("NetworkPolicy", DNS_POLICY): "the program's own DNS egress NetworkPolicy",
}
_NOT_NAME = re.compile(r"[^a-z0-9]+")
VOLUME_NAME_MAX = 63  # a DNS label


def service_policy_name(service: str) -> str:
    return f"{SERVICE_POLICY_PREFIX}{service}"


def external_secret_name(service: str) -> str:
    return f"{service}{EXTERNAL_SECRET_SUFFIX}"


def headless_service_name(service: str) -> str:
    """A StatefulSet's governing Service (clusterIP None: its pods' stable DNS names); clients
    keep the ClusterIP Service named after the service."""
    return f"{service}{HEADLESS_SUFFIX}"


def kubernetes_object_names(service: str) -> list[tuple[str, str]]:
    """(kind, name) of every namespaced object the program may create for a service (each
    only when the service needs it). Names with a content hash (the env ConfigMap
    `<service>-env-<10 hex>`, the Secret `<service>-secrets-<10 hex>`, a Job
    `<service>-<10 hex>`) cannot equal another service's: equal lengths would need equal
    service names."""
    return [
        ("ServiceAccount", service),
        ("Service", service),
        ("Service", headless_service_name(service)),
        ("Deployment", service),
        ("StatefulSet", service),
        ("HorizontalPodAutoscaler", service),
        ("PodDisruptionBudget", service),
        ("Ingress", service),
        ("NetworkPolicy", service_policy_name(service)),
        ("Secret", external_secret_name(service)),
    ]


def secret_file_env(name: str) -> str:
    """The variable that tells the app where the secret `name` is mounted."""
    return f"{name}{SECRET_FILE_SUFFIX}"


def secret_file_path(name: str) -> str:
    return f"{SECRET_DIR}/{name}"


def writable_volume_name(path: str) -> str:
    """The pod volume (an emptyDir) for a writable path: a DNS label derived from the path,
    so two paths can map to one name (`/a-b`, `/a/b`); the catalog's rules refuse that."""
    cleaned = _NOT_NAME.sub("-", path.lower()).strip("-")
    return f"{WRITABLE_VOLUME_PREFIX}{cleaned or 'root'}"[:VOLUME_NAME_MAX].rstrip("-")


NAMESPACE_PREFIX = "dockyard-"
_NOT_LABEL = re.compile(r"[^a-z0-9-]+")


def default_namespace(stack: str) -> str:
    """A stack's namespace unless `kubernetes.namespace` names one: `dockyard-<stack>`, one per
    stack (a shared one would let two stacks replace each other's objects), written as a DNS
    label (lower case, other characters as '-', at most 63). Two stack names that still map to one
    (`dev.x`, `dev_x`) are refused before anything exists (plan/namespaces.py)."""
    cleaned = _NOT_LABEL.sub("-", stack.lower()).strip("-") or "stack"
    return f"{NAMESPACE_PREFIX}{cleaned}"[:VOLUME_NAME_MAX].rstrip("-")
