"""The Kubernetes `restricted` Pod Security Standard (v1.30), checked field by field on a workload's
pod template: no host namespaces, paths or ports, safe volume types, non-root, no privilege
escalation, capabilities dropped, seccomp/AppArmor/SELinux/sysctls within the profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..common import as_list, as_map, dig
from .workloads import ContainerView, containers_of, pod_of

# What the "restricted" profile allows (Kubernetes v1.30 docs).
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
ALLOWED_SELINUX_TYPES = frozenset(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"])
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
            out.append(f"pod spec.{field} must not be true (host namespaces are forbidden)")
    out += _volume_violations(spec)
    out += _pod_security_context_violations(pod_sc)

    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = dig(pod_sc, "seccompProfile", "type")
    for c in containers_of(spec):
        sc = as_map(c.spec.get("securityContext"))
        out += _container_security_violations(c, sc)
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            out.append(f"{c.label}: runAsNonRoot must be true (in the container or pod securityContext)")
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
                out.append(f'volume "{name}": type {source} is not allowed (allowed: {allowed})')
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
    out += [f"pod securityContext.{m}" for m in _selinux_violations(as_map(pod_sc.get("seLinuxOptions")))]
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


def _container_security_violations(c: ContainerView, sc: Mapping[str, Any]) -> list[str]:
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
        out.append(f"{c.label}: capabilities.add may only contain NET_BIND_SERVICE, not {', '.join(added)}")
    out += _profile_violations(sc, f"{c.label}: ")
    proc_mount = sc.get("procMount")
    if proc_mount not in (None, "Default"):
        out.append(f"{c.label}: procMount must be Default, not {proc_mount}")
    out += [f"{c.label}: {m}" for m in _selinux_violations(as_map(sc.get("seLinuxOptions")))]
    if dig(sc, "windowsOptions", "hostProcess") is True:
        out.append(f"{c.label}: windowsOptions.hostProcess must not be true")
    for port in as_list(c.spec.get("ports")):
        host_port = as_map(port).get("hostPort")
        if host_port not in (None, 0):
            out.append(f"{c.label}: hostPort {host_port} is forbidden")
    return out
