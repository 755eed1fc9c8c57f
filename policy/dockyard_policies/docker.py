"""Rules for local Docker containers (pulumi-docker 5.x `docker:index/container:Container`).

Props use the engine's camelCase names as the provider receives them: user, readOnly,
capabilities {adds, drops}, securityOpts, memory (MB), healthcheck {tests}, ports
[{internal, external, ip, protocol}], privileged, networkMode, labels [{label, value}].
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .common import (
    CAPABILITIES_OPT_OUT,
    ONE_SHOT_LABEL,
    READ_ONLY_ROOT_OPT_OUT,
    as_list,
    as_map,
    opt_out_key,
    opt_out_reason,
)

CONTAINER = "docker:index/container:Container"
NO_NEW_PRIVILEGES_OPTS = frozenset(["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"])
ROOT_USERS = frozenset(["0", "root"])


def labels_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The container's labels list [{label, value}] as a dict."""
    out = {}
    for entry in as_list(props.get("labels")):
        entry = as_map(entry)
        if isinstance(entry.get("label"), str):
            out[entry["label"]] = entry.get("value")
    return out


def is_one_shot(props: Mapping[str, Any]) -> bool:
    """A run-to-completion container (e.g. migrations) says so with label dockyard.dev/one-shot=true."""
    return labels_of(props).get(ONE_SHOT_LABEL) == "true"


def _name(props: Mapping[str, Any]) -> str:
    return str(props.get("name") or "?")


def _applies(resource_type: str) -> bool:
    return resource_type == CONTAINER


def user_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The container runs as an explicit non-root user (UID part not 0/root)."""
    if not _applies(resource_type):
        return []
    user = props.get("user")
    if not isinstance(user, str) or not user.strip():
        return [f'container "{_name(props)}": user must be set to a non-root UID (e.g. 1000:1000)']
    uid = user.split(":", 1)[0].strip()
    if uid in ROOT_USERS:
        return [f'container "{_name(props)}": user {user} is root; use a non-root UID']
    return []


def read_only_root_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _applies(resource_type) or props.get("readOnly") is True:
        return []
    if opt_out_reason(labels_of(props), READ_ONLY_ROOT_OPT_OUT):
        return []
    return [
        f'container "{_name(props)}": readOnly must be true '
        f"(or label {opt_out_key(READ_ONLY_ROOT_OPT_OUT)} with a reason)"
    ]


def capability_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Drop ALL capabilities; adding any back needs a named opt-out label with a reason."""
    if not _applies(resource_type):
        return []
    caps = as_map(props.get("capabilities"))
    out = []
    if "ALL" not in [str(c).upper() for c in as_list(caps.get("drops"))]:
        out.append(f'container "{_name(props)}": capabilities.drops must include ALL')
    adds = [str(c) for c in as_list(caps.get("adds"))]
    if adds and not opt_out_reason(labels_of(props), CAPABILITIES_OPT_OUT):
        out.append(
            f'container "{_name(props)}": capabilities.adds {", ".join(adds)} needs label '
            f"{opt_out_key(CAPABILITIES_OPT_OUT)} with a reason"
        )
    return out


def no_new_privileges_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _applies(resource_type):
        return []
    opts = {str(o).strip() for o in as_list(props.get("securityOpts"))}
    if opts & NO_NEW_PRIVILEGES_OPTS:
        return []
    return [f'container "{_name(props)}": securityOpts must include no-new-privileges:true']


def memory_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if not _applies(resource_type):
        return []
    memory = props.get("memory")
    if isinstance(memory, (int, float)) and not isinstance(memory, bool) and memory > 0:
        return []
    return [f'container "{_name(props)}": memory (MB) must be set to a positive limit']


def health_check_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A health check on every long-running container; one-shot containers are exempt by label."""
    if not _applies(resource_type) or is_one_shot(props):
        return []
    tests = [str(t) for t in as_list(as_map(props.get("healthcheck")).get("tests"))]
    if not tests:
        return [
            f'container "{_name(props)}": healthcheck.tests must be set '
            f"(or label {ONE_SHOT_LABEL}=true for a run-to-completion container)"
        ]
    if tests[0].upper() == "NONE":
        return [f'container "{_name(props)}": healthcheck must not be NONE']
    return []


def _is_loopback(ip: Any) -> bool:
    try:
        return isinstance(ip, str) and ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def port_violations(resource_type: str, props: Mapping[str, Any], require_loopback: bool) -> list[str]:
    """Published ports bind to the loopback address only (nothing reachable from the network)."""
    if not _applies(resource_type) or not require_loopback:
        return []
    out = []
    for port in as_list(props.get("ports")):
        port = as_map(port)
        if not _is_loopback(port.get("ip")):
            ip = port.get("ip") or "0.0.0.0 (default)"
            out.append(
                f'container "{_name(props)}": port {port.get("internal")} is published on {ip}; bind it to 127.0.0.1'
            )
    return out


def host_access_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Not privileged, and no host network/PID/IPC namespace."""
    if not _applies(resource_type):
        return []
    out = []
    if props.get("privileged") is True:
        out.append(f'container "{_name(props)}": privileged must not be true')
    for field, label in (
        ("networkMode", "network"),
        ("pidMode", "PID"),
        ("ipcMode", "IPC"),
    ):
        if props.get(field) == "host":
            out.append(f'container "{_name(props)}": {field} host shares the host {label} namespace')
    return out
