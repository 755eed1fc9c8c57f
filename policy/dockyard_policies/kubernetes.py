"""Kubernetes rules as pure functions: (resource type, input props) -> violation messages.

Props use the Kubernetes API field names (camelCase), as the Pulumi Kubernetes provider
receives them. Stack-level rules take a list of StackResource and return Findings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from .common import (
    Finding,
    StackResource,
    as_list,
    as_map,
    dig,
    is_sha256_digest,
    looks_secret_name,
    opt_out_reason,
    split_image_ref,
)

POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"

# Where each workload kind keeps its pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template"),
    STATEFUL_SET: ("spec", "template"),
    DAEMON_SET: ("spec", "template"),
    REPLICA_SET: ("spec", "template"),
    JOB: ("spec", "template"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_TYPES = frozenset([POD, *TEMPLATE_PATHS])
# Kinds whose pods are meant to keep running (and so need probes); a bare Pod counts unless
# its restartPolicy says it runs to completion.
LONG_RUNNING_TYPES = frozenset([DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, POD])
REPLICATED_TYPES = frozenset([DEPLOYMENT, STATEFUL_SET, REPLICA_SET])

# Pod Security Standards, "restricted" profile (Kubernetes v1.30 docs).
RESTRICTED_VOLUME_TYPES = frozenset(
    [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
)
ALLOWED_ADDED_CAPABILITIES = frozenset(["NET_BIND_SERVICE"])
ALLOWED_SECCOMP_TYPES = frozenset(["RuntimeDefault", "Localhost"])
ALLOWED_APPARMOR_TYPES = frozenset(["RuntimeDefault", "Localhost"])
ALLOWED_SELINUX_TYPES = frozenset(
    ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]
)
SAFE_SYSCTLS = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
)
PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
READ_ONLY_ROOT_OPT_OUT = "read-only-root"


class PodView(NamedTuple):
    """The pod template of a workload plus the annotations that may carry opt-outs."""

    spec: Mapping[str, Any]
    annotations: Mapping[str, Any]  # object metadata merged with pod template metadata


class ContainerView(NamedTuple):
    kind: str  # "container", "initContainer" or "ephemeralContainer"
    name: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f'{self.kind} "{self.name}"'


def pod_of(resource_type: str, props: Mapping[str, Any]) -> PodView | None:
    """The pod spec inside a workload, or None when the resource has no pod template."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    object_annotations = as_map(dig(props, "metadata", "annotations"))
    if resource_type == POD:
        return PodView(as_map(props.get("spec")), object_annotations)
    template = as_map(dig(props, *TEMPLATE_PATHS[resource_type]))
    annotations = {
        **object_annotations,
        **as_map(dig(template, "metadata", "annotations")),
    }
    return PodView(as_map(template.get("spec")), annotations)


def containers_of(
    pod_spec: Mapping[str, Any], *, init: bool = True, ephemeral: bool = True
) -> Iterator[ContainerView]:
    kinds = [("containers", "container")]
    if init:
        kinds.append(("initContainers", "initContainer"))
    if ephemeral:
        kinds.append(("ephemeralContainers", "ephemeralContainer"))
    for field, kind in kinds:
        for index, container in enumerate(as_list(pod_spec.get(field))):
            spec = as_map(container)
            yield ContainerView(kind, str(spec.get("name") or f"#{index}"), spec)


# --- Pod Security Standard "restricted" -------------------------------------------------------


def pod_security_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every field of the `restricted` Pod Security Standard, checked on the pod template."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    spec = pod.spec
    pod_sc = as_map(spec.get("securityContext"))
    out: list[str] = []

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            out.append(
                f"pod spec.{field} must not be true (host namespaces are forbidden)"
            )
    out += _volume_violations(spec)
    out += _pod_security_context_violations(pod_sc)

    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = dig(pod_sc, "seccompProfile", "type")
    for c in containers_of(spec):
        sc = as_map(c.spec.get("securityContext"))
        out += _container_security_violations(c, sc)
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            out.append(
                f"{c.label}: runAsNonRoot must be true (in the container or pod securityContext)"
            )
        seccomp = dig(sc, "seccompProfile", "type")
        if seccomp is None and pod_seccomp is None:
            out.append(
                f"{c.label}: seccompProfile.type must be RuntimeDefault or Localhost "
                "(in the container or pod securityContext)"
            )
    return out


def _volume_violations(spec: Mapping[str, Any]) -> list[str]:
    out = []
    for volume in as_list(spec.get("volumes")):
        volume = as_map(volume)
        name = volume.get("name", "?")
        for source in (k for k in volume if k != "name"):
            if source == "hostPath":
                out.append(f'volume "{name}": hostPath volumes are forbidden')
            elif source not in RESTRICTED_VOLUME_TYPES:
                allowed = ", ".join(sorted(RESTRICTED_VOLUME_TYPES))
                out.append(
                    f'volume "{name}": type {source} is not allowed (allowed: {allowed})'
                )
    return out


def _profile_violations(sc: Mapping[str, Any], prefix: str) -> list[str]:
    """seccomp and AppArmor profiles may only be RuntimeDefault or Localhost (never Unconfined)."""
    out = []
    for field, allowed in (("seccompProfile", ALLOWED_SECCOMP_TYPES), ("appArmorProfile", ALLOWED_APPARMOR_TYPES)):
        kind = dig(sc, field, "type")
        if kind is not None and kind not in allowed:
            out.append(f"{prefix}{field}.type must be RuntimeDefault or Localhost, not {kind}")
    return out


def _pod_security_context_violations(pod_sc: Mapping[str, Any]) -> list[str]:
    out = []
    if pod_sc.get("runAsNonRoot") is False:
        out.append("pod securityContext.runAsNonRoot must not be false")
    if pod_sc.get("runAsUser") == 0:
        out.append("pod securityContext.runAsUser must not be 0 (root)")
    out += _profile_violations(pod_sc, "pod securityContext.")
    out += [
        f"pod securityContext.{m}"
        for m in _selinux_violations(as_map(pod_sc.get("seLinuxOptions")))
    ]
    if dig(pod_sc, "windowsOptions", "hostProcess") is True:
        out.append("pod securityContext.windowsOptions.hostProcess must not be true")
    for sysctl in as_list(pod_sc.get("sysctls")):
        name = as_map(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            out.append(f"pod securityContext.sysctls: {name} is not a safe sysctl")
    return out


def _selinux_violations(options: Mapping[str, Any]) -> list[str]:
    out = []
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        out.append(f"seLinuxOptions.type {options.get('type')} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            out.append(f"seLinuxOptions.{field} must not be set")
    return out


def _container_security_violations(
    c: ContainerView, sc: Mapping[str, Any]
) -> list[str]:
    out = []
    if sc.get("privileged") is True:
        out.append(f"{c.label}: privileged must not be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{c.label}: allowPrivilegeEscalation must be false")
    if sc.get("runAsUser") == 0:
        out.append(f"{c.label}: runAsUser must not be 0 (root)")
    caps = as_map(sc.get("capabilities"))
    if "ALL" not in [str(x).upper() for x in as_list(caps.get("drop"))]:
        out.append(f"{c.label}: capabilities.drop must include ALL")
    added = [
        str(x)
        for x in as_list(caps.get("add"))
        if str(x).upper().removeprefix("CAP_") not in ALLOWED_ADDED_CAPABILITIES
    ]
    if added:
        out.append(
            f"{c.label}: capabilities.add may only contain NET_BIND_SERVICE, not {', '.join(added)}"
        )
    out += _profile_violations(sc, f"{c.label}: ")
    proc_mount = sc.get("procMount")
    if proc_mount not in (None, "Default"):
        out.append(f"{c.label}: procMount must be Default, not {proc_mount}")
    out += [
        f"{c.label}: {m}" for m in _selinux_violations(as_map(sc.get("seLinuxOptions")))
    ]
    if dig(sc, "windowsOptions", "hostProcess") is True:
        out.append(f"{c.label}: windowsOptions.hostProcess must not be true")
    for port in as_list(c.spec.get("ports")):
        host_port = as_map(port).get("hostPort")
        if host_port not in (None, 0):
            out.append(f"{c.label}: hostPort {host_port} is forbidden")
    return out


# --- the rest of the per-workload rules ------------------------------------------------------


def read_only_root_violations(
    resource_type: str, props: Mapping[str, Any]
) -> list[str]:
    """readOnlyRootFilesystem on every container, unless the object names an opt-out with a reason."""
    pod = pod_of(resource_type, props)
    if pod is None or opt_out_reason(pod.annotations, READ_ONLY_ROOT_OPT_OUT):
        return []
    return [
        f"{c.label}: securityContext.readOnlyRootFilesystem must be true "
        f"(or annotate opt-out.dockyard.dev/{READ_ONLY_ROOT_OPT_OUT} with a reason)"
        for c in containers_of(pod.spec, ephemeral=False)
        if dig(c.spec, "securityContext", "readOnlyRootFilesystem") is not True
    ]


def resource_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """CPU and memory requests and limits on every container and init container."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec, ephemeral=False):
        resources = as_map(c.spec.get("resources"))
        missing = [
            f"{kind}.{res}"
            for kind in ("requests", "limits")
            for res in ("cpu", "memory")
            if as_map(resources.get(kind)).get(res) in (None, "")
        ]
        if missing:
            out.append(f"{c.label}: resources must set {', '.join(missing)}")
    return out


def probe_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Liveness and readiness probes on long-running containers (not Jobs, not init containers)."""
    pod = pod_of(resource_type, props)
    if pod is None or resource_type not in LONG_RUNNING_TYPES:
        return []
    if resource_type == POD and pod.spec.get("restartPolicy") in ("Never", "OnFailure"):
        return []  # a bare pod that runs to completion
    out = []
    for c in containers_of(pod.spec, init=False, ephemeral=False):
        missing = [
            p for p in ("livenessProbe", "readinessProbe") if not as_map(c.spec.get(p))
        ]
        if missing:
            out.append(f"{c.label}: must define {' and '.join(missing)}")
    return out


def image_violations(
    resource_type: str, props: Mapping[str, Any], require_digests: bool
) -> list[str]:
    """Images carry an explicit, non-latest tag (or a digest); with require_digests, a sha256 digest."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec):
        image = c.spec.get("image")
        if not isinstance(image, str) or not image:
            out.append(f"{c.label}: image must be set")
            continue
        _, tag, digest = split_image_ref(image)
        if digest is None and tag is None:
            out.append(
                f"{c.label}: image {image} has no tag (implies latest); pin a version"
            )
        elif tag == "latest":
            out.append(f"{c.label}: image {image} uses the latest tag; pin a version")
        if require_digests and not is_sha256_digest(digest):
            out.append(
                f"{c.label}: image {image} must be pinned by digest (@sha256:<64 hex>)"
            )
    return out


def env_secret_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No literal values for secret-looking env names; use valueFrom (secretKeyRef) or a *_FILE path."""
    pod = pod_of(resource_type, props)
    if pod is None:
        return []
    out = []
    for c in containers_of(pod.spec):
        for env in as_list(c.spec.get("env")):
            env = as_map(env)
            value = env.get("value")
            if looks_secret_name(env.get("name")) and isinstance(value, str) and value:
                out.append(
                    f"{c.label}: env {env.get('name')} looks secret but has a literal value; "
                    "use valueFrom.secretKeyRef or a mounted file"
                )
    return out


def load_balancer_violations(
    resource_type: str, props: Mapping[str, Any], allow_load_balancer: bool
) -> list[str]:
    if resource_type != SERVICE or allow_load_balancer:
        return []
    if dig(props, "spec", "type") == "LoadBalancer":
        name = dig(props, "metadata", "name") or "?"
        return [
            f'Service "{name}": type LoadBalancer is not allowed on this stack (use an Ingress or ClusterIP)'
        ]
    return []


# --- stack-level rules ------------------------------------------------------------------------


def _namespace_of(props: Mapping[str, Any]) -> str:
    namespace = dig(props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _object_name(resource: StackResource) -> str:
    """metadata.name when set, else the Pulumi resource name (auto-named objects)."""
    name = dig(resource.props, "metadata", "name")
    return name if isinstance(name, str) and name else resource.name


def service_account_token_violations(
    resources: Sequence[StackResource],
) -> list[Finding]:
    """automountServiceAccountToken false on each pod spec, or unset there and false on its ServiceAccount."""
    accounts = {
        (_namespace_of(r.props), _object_name(r)): r.props.get(
            "automountServiceAccountToken"
        )
        for r in resources
        if r.type == SERVICE_ACCOUNT
    }
    out = []
    for r in resources:
        pod = pod_of(r.type, r.props)
        if pod is None:
            continue
        on_pod = pod.spec.get("automountServiceAccountToken")
        if on_pod is False:
            continue
        account = (
            pod.spec.get("serviceAccountName")
            or pod.spec.get("serviceAccount")
            or "default"
        )
        if on_pod is True:
            out.append(
                Finding(
                    f'{r.type.rsplit(":", 1)[-1]} "{r.name}": automountServiceAccountToken must not be true',
                    r.urn,
                )
            )
        elif accounts.get((_namespace_of(r.props), account)) is not False:
            out.append(
                Finding(
                    f'{r.type.rsplit(":", 1)[-1]} "{r.name}": automountServiceAccountToken must be false on the pod '
                    f'spec or on its ServiceAccount "{account}"',
                    r.urn,
                )
            )
    return out


def is_default_deny(props: Mapping[str, Any]) -> bool:
    """podSelector {} with policyTypes Ingress and Egress and no rules: nothing in, nothing out."""
    spec = as_map(props.get("spec"))
    selector = as_map(spec.get("podSelector"))
    if as_map(selector.get("matchLabels")) or as_list(selector.get("matchExpressions")):
        return False
    if "podSelector" not in spec:
        return False
    if set(as_list(spec.get("policyTypes"))) != {"Ingress", "Egress"}:
        return False
    return not as_list(spec.get("ingress")) and not as_list(spec.get("egress"))


def namespace_isolation_violations(resources: Sequence[StackResource]) -> list[Finding]:
    """Every Namespace: a default-deny NetworkPolicy (ingress and egress) and PSA enforce=restricted."""
    denied = {
        _namespace_of(r.props)
        for r in resources
        if r.type == NETWORK_POLICY and is_default_deny(r.props)
    }
    out = []
    for r in resources:
        if r.type != NAMESPACE:
            continue
        name = _object_name(r)
        if name not in denied:
            out.append(
                Finding(
                    f'Namespace "{name}": needs a default-deny NetworkPolicy '
                    "(podSelector {}, policyTypes [Ingress, Egress], no rules)",
                    r.urn,
                )
            )
        if dig(r.props, "metadata", "labels", PSA_ENFORCE_LABEL) != "restricted":
            out.append(
                Finding(
                    f'Namespace "{name}": label {PSA_ENFORCE_LABEL} must be "restricted"',
                    r.urn,
                )
            )
    return out


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Kubernetes LabelSelector semantics; an empty selector matches every pod."""
    for key, value in as_map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_map(expr)
        key, op, values = (
            expr.get("key"),
            expr.get("operator"),
            list(as_list(expr.get("values"))),
        )
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def pod_disruption_budget_violations(
    resources: Sequence[StackResource],
) -> list[Finding]:
    """Every workload with replicas > 1 is selected by a PodDisruptionBudget in its namespace."""
    # policy/v1: a null selector selects no pods, an empty one selects the whole namespace.
    budgets = [
        (_namespace_of(r.props), as_map(dig(r.props, "spec", "selector")))
        for r in resources
        if r.type == POD_DISRUPTION_BUDGET
        and dig(r.props, "spec", "selector") is not None
    ]
    out = []
    for r in resources:
        if r.type not in REPLICATED_TYPES:
            continue
        replicas = dig(r.props, "spec", "replicas")
        if not isinstance(replicas, int) or replicas <= 1:
            continue
        namespace = _namespace_of(r.props)
        labels = as_map(dig(r.props, "spec", "template", "metadata", "labels"))
        if not any(
            ns == namespace and selector_matches(sel, labels) for ns, sel in budgets
        ):
            kind = r.type.rsplit(":", 1)[-1]
            out.append(
                Finding(
                    f'{kind} "{r.name}" has {replicas} replicas but no PodDisruptionBudget selects its pods',
                    r.urn,
                )
            )
    return out
