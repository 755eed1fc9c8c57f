"""Pure Kubernetes rules: each passes the compliant fixture and catches each broken field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dockyard_policies.kubernetes import cluster, containers, pod_security
from dockyard_policies.kubernetes import workloads as k8s

from . import fixtures as fx

DEPLOY = k8s.DEPLOYMENT


def _pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def _c(props: dict[str, Any]) -> dict[str, Any]:
    return _pod(props)["containers"][0]


def _sc(props: dict[str, Any]) -> dict[str, Any]:
    return _c(props)["securityContext"]


def _broken(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    props = fx.deployment()
    mutate(props)
    return props


WORKLOADS = [
    (k8s.DEPLOYMENT, fx.deployment()),
    (k8s.STATEFUL_SET, fx.deployment("postgres", replicas=1)),
    (k8s.DAEMON_SET, {k: v for k, v in fx.deployment("agent").items()}),
    (k8s.JOB, fx.job()),
    (k8s.CRON_JOB, fx.cron_job()),
    (k8s.POD, fx.pod()),
]
RESOURCE_RULES = [
    pod_security.pod_security_violations,
    containers.read_only_root_violations,
    containers.resource_violations,
    containers.ephemeral_storage_violations,
    containers.probe_violations,
    containers.env_secret_violations,
]


@pytest.mark.parametrize("resource_type,props", WORKLOADS, ids=[w[0].rsplit(":", 1)[1] for w in WORKLOADS])
def test_compliant_workloads_pass_every_rule(resource_type: str, props: dict[str, Any]) -> None:
    for rule in RESOURCE_RULES:
        assert rule(resource_type, props) == [], rule.__name__
    assert containers.image_violations(resource_type, props, require_digests=True) == []


@pytest.mark.parametrize("resource_type,props", WORKLOADS, ids=[w[0].rsplit(":", 1)[1] for w in WORKLOADS])
def test_pod_spec_is_found_inside_every_workload_kind(resource_type: str, props: dict[str, Any]) -> None:
    pod = k8s.pod_of(resource_type, props)
    assert pod is not None
    assert pod.spec["containers"], "the pod template's containers were not found"


def test_non_workloads_are_ignored() -> None:
    assert k8s.pod_of(k8s.SERVICE, {"spec": {"containers": [{}]}}) is None
    assert pod_security.pod_security_violations(k8s.SERVICE, {"spec": {"hostNetwork": True}}) == []


def _drop_pod_seccomp(p: dict[str, Any]) -> None:
    del _pod(p)["securityContext"]["seccompProfile"]
    for c in _pod(p)["containers"] + _pod(p)["initContainers"]:
        c["securityContext"].pop("seccompProfile")


def _drop_non_root(p: dict[str, Any]) -> None:
    del _pod(p)["securityContext"]["runAsNonRoot"]
    _sc(p).pop("runAsNonRoot")


PSS_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "runAsNonRoot missing everywhere",
        _drop_non_root,
        'container "backend": runAsNonRoot must be true',
    ),
    (
        "runAsNonRoot false in container",
        lambda p: _sc(p).update(runAsNonRoot=False),
        'container "backend": runAsNonRoot must be true',
    ),
    (
        "pod runAsNonRoot false",
        lambda p: _pod(p)["securityContext"].update(runAsNonRoot=False),
        "pod securityContext.runAsNonRoot must not be false",
    ),
    (
        "allowPrivilegeEscalation unset",
        lambda p: _sc(p).pop("allowPrivilegeEscalation"),
        'container "backend": allowPrivilegeEscalation must be false',
    ),
    (
        "allowPrivilegeEscalation true",
        lambda p: _sc(p).update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation must be false",
    ),
    (
        "capabilities not dropped",
        lambda p: _sc(p).update(capabilities={}),
        'container "backend": capabilities.drop must include ALL',
    ),
    (
        "capability added",
        lambda p: _sc(p)["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities.add may only contain NET_BIND_SERVICE, not NET_ADMIN",
    ),
    (
        "no seccomp anywhere",
        _drop_pod_seccomp,
        "seccompProfile.type must be RuntimeDefault or Localhost",
    ),
    (
        "container seccomp Unconfined",
        lambda p: _sc(p).update(seccompProfile={"type": "Unconfined"}),
        'container "backend": seccompProfile.type must be RuntimeDefault or Localhost, not Unconfined',
    ),
    (
        "pod seccomp Unconfined",
        lambda p: _pod(p)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "pod securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not Unconfined",
    ),
    (
        "privileged",
        lambda p: _sc(p).update(privileged=True),
        'container "backend": privileged must not be true',
    ),
    (
        "hostNetwork",
        lambda p: _pod(p).update(hostNetwork=True),
        "pod spec.hostNetwork must not be true",
    ),
    (
        "hostPID",
        lambda p: _pod(p).update(hostPID=True),
        "pod spec.hostPID must not be true",
    ),
    (
        "hostIPC",
        lambda p: _pod(p).update(hostIPC=True),
        "pod spec.hostIPC must not be true",
    ),
    (
        "hostPath volume",
        lambda p: _pod(p)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run"}}),
        'volume "docker": hostPath volumes are forbidden',
    ),
    (
        "nfs volume",
        lambda p: _pod(p)["volumes"].append({"name": "share", "nfs": {"server": "nfs", "path": "/"}}),
        'volume "share": type nfs is not allowed',
    ),
    (
        "hostPort",
        lambda p: _c(p)["ports"][0].update(hostPort=8000),
        'container "backend": hostPort 8000 is forbidden',
    ),
    (
        "runAsUser 0 in container",
        lambda p: _sc(p).update(runAsUser=0),
        'container "backend": runAsUser must not be 0 (root)',
    ),
    (
        "runAsUser 0 in pod",
        lambda p: _pod(p)["securityContext"].update(runAsUser=0),
        "pod securityContext.runAsUser must not be 0 (root)",
    ),
    (
        "procMount Unmasked",
        lambda p: _sc(p).update(procMount="Unmasked"),
        "procMount must be Default, not Unmasked",
    ),
    (
        "unsafe sysctl",
        lambda p: _pod(p)["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "kernel.msgmax is not a safe sysctl",
    ),
    (
        "SELinux user",
        lambda p: _sc(p).update(seLinuxOptions={"user": "system_u"}),
        "seLinuxOptions.user must not be set",
    ),
    (
        "AppArmor unconfined",
        lambda p: _sc(p).update(appArmorProfile={"type": "Unconfined"}),
        "appArmorProfile.type must be RuntimeDefault or Localhost, not Unconfined",
    ),
    (
        "init container escalation",
        lambda p: _pod(p)["initContainers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
        'initContainer "wait-for-db": allowPrivilegeEscalation must be false',
    ),
]


@pytest.mark.parametrize("mutate,expected", [c[1:] for c in PSS_CASES], ids=[c[0] for c in PSS_CASES])
def test_restricted_pod_security_catches(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    messages = pod_security.pod_security_violations(DEPLOY, _broken(mutate))
    assert any(expected in m for m in messages), messages


def test_net_bind_service_may_be_added() -> None:
    props = _broken(lambda p: _sc(p)["capabilities"].update(add=["NET_BIND_SERVICE"]))
    assert pod_security.pod_security_violations(DEPLOY, props) == []


def test_container_level_seccomp_is_enough_without_pod_level() -> None:
    props = _broken(lambda p: _pod(p)["securityContext"].pop("seccompProfile"))
    assert pod_security.pod_security_violations(DEPLOY, props) == []


def test_read_only_root_required_and_opt_out_needs_reason() -> None:
    props = _broken(lambda p: _sc(p).update(readOnlyRootFilesystem=False))
    assert containers.read_only_root_violations(DEPLOY, props) == [
        'container "backend": securityContext.readOnlyRootFilesystem must be true '
        "(or annotate opt-out.dockyard.dev/read-only-root with a reason)"
    ]
    props["metadata"]["annotations"] = {"opt-out.dockyard.dev/read-only-root": "  "}
    assert containers.read_only_root_violations(DEPLOY, props), "an empty reason must not opt out"
    props["spec"]["template"]["metadata"]["annotations"] = {
        "opt-out.dockyard.dev/read-only-root": "upstream image writes its pid file under /var/run"
    }
    assert containers.read_only_root_violations(DEPLOY, props) == []


@pytest.mark.parametrize(
    "kind,field,missing",
    [("requests", "cpu", "requests.cpu"), ("limits", "memory", "limits.memory")],
)
def test_requests_and_limits_required(kind: str, field: str, missing: str) -> None:
    props = _broken(lambda p: _c(p)["resources"][kind].pop(field))
    assert containers.resource_violations(DEPLOY, props) == [f'container "backend": resources must set {missing}']


def test_init_containers_need_resources_too() -> None:
    props = _broken(lambda p: _pod(p)["initContainers"][0].pop("resources"))
    assert containers.resource_violations(DEPLOY, props) == [
        'initContainer "wait-for-db": resources must set requests.cpu, requests.memory, limits.cpu, limits.memory'
    ]


def test_probes_required_on_long_running_containers() -> None:
    props = _broken(lambda p: _c(p).pop("readinessProbe"))
    assert containers.probe_violations(DEPLOY, props) == ['container "backend": must define readinessProbe']
    props = _broken(lambda p: [_c(p).pop("readinessProbe"), _c(p).pop("livenessProbe")])
    assert containers.probe_violations(k8s.STATEFUL_SET, props) == [
        'container "backend": must define livenessProbe and readinessProbe'
    ]


def test_liveness_must_not_be_the_readiness_check() -> None:
    props = _broken(lambda p: _c(p).update(livenessProbe={**_c(p)["readinessProbe"], "periodSeconds": 10}))
    assert containers.probe_violations(DEPLOY, props) == [
        'container "backend": livenessProbe must not be the readinessProbe\'s check '
        "(liveness checks the process alone; readiness that it can serve)"
    ]
    # Another handler of the same kind, or another kind, is a different check.
    props = _broken(lambda p: _c(p).update(livenessProbe={"exec": {"command": ["check", "--alive"]}}))
    assert containers.probe_violations(DEPLOY, props) == []


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (
            lambda p: _c(p)["resources"]["limits"].pop("ephemeral-storage"),
            'container "backend": resources must set limits.ephemeral-storage',
        ),
        (
            lambda p: _pod(p)["initContainers"][0]["resources"]["requests"].pop("ephemeral-storage"),
            'initContainer "wait-for-db": resources must set requests.ephemeral-storage',
        ),
        (lambda p: _pod(p)["volumes"][0]["emptyDir"].pop("sizeLimit"), 'volume "tmp": emptyDir must set sizeLimit'),
    ],
)
def test_ephemeral_storage_and_empty_dir_sizes_are_required(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    assert containers.ephemeral_storage_violations(DEPLOY, _broken(mutate)) == [expected]


def test_probes_not_required_for_jobs_cronjobs_init_containers_or_completing_pods() -> None:
    assert containers.probe_violations(k8s.JOB, fx.job()) == []
    assert containers.probe_violations(k8s.CRON_JOB, fx.cron_job()) == []
    one_shot = fx.pod()
    one_shot["spec"]["restartPolicy"] = "Never"
    one_shot["spec"]["containers"][0].pop("livenessProbe")
    assert containers.probe_violations(k8s.POD, one_shot) == []
    one_shot["spec"]["restartPolicy"] = "Always"
    assert containers.probe_violations(k8s.POD, one_shot) == ['container "backend": must define livenessProbe']


@pytest.mark.parametrize(
    "image,require_digests,expected",
    [
        (
            "nginx",
            False,
            'container "backend": image nginx has no tag (implies latest); pin a version',
        ),
        (
            "registry:5000/nginx",
            False,
            "image registry:5000/nginx has no tag (implies latest)",
        ),
        (
            "nginx:latest",
            False,
            'container "backend": image nginx:latest uses the latest tag; pin a version',
        ),
        (
            "nginx:1.27",
            True,
            'container "backend": image nginx:1.27 must be pinned by digest (@sha256:<64 hex>)',
        ),
        ("nginx:1.27@sha256:abc", True, "must be pinned by digest"),
    ],
)
def test_image_pinning_catches(image: str, require_digests: bool, expected: str) -> None:
    props = _broken(lambda p: _c(p).update(image=image))
    messages = containers.image_violations(DEPLOY, props, require_digests)
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "image,require_digests",
    [
        ("nginx:1.27", False),
        ("registry:5000/nginx:1.27", False),
        (f"nginx@{fx.DIGEST}", True),
        (f"nginx:1.27@{fx.DIGEST}", True),
    ],
)
def test_image_pinning_passes(image: str, require_digests: bool) -> None:
    props = _broken(lambda p: [_c(p).update(image=image), _pod(p).pop("initContainers")])
    assert containers.image_violations(DEPLOY, props, require_digests) == []


@pytest.mark.parametrize(
    "name",
    [
        "POSTGRES_PASSWORD",
        "api_token",
        "AWS_SECRET_ACCESS_KEY",
        "SIGNING_KEY",
        "GIT_CREDENTIALS",
    ],
)
def test_literal_secret_env_is_caught(name: str) -> None:
    props = _broken(lambda p: _c(p)["env"].append({"name": name, "value": "hunter2"}))
    assert containers.env_secret_violations(DEPLOY, props) == [
        f'container "backend": env {name} looks secret but has a literal value; use valueFrom.secretKeyRef or a mounted file'
    ]


def test_secret_env_from_secret_ref_or_file_path_passes() -> None:
    # The fixture holds DATABASE_PASSWORD via valueFrom and DATABASE_URL_FILE as a literal path.
    assert containers.env_secret_violations(DEPLOY, fx.deployment()) == []


def test_load_balancer_only_when_allowed() -> None:
    service = {
        "metadata": {"name": "frontend"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }
    assert cluster.load_balancer_violations(k8s.SERVICE, service, allow_load_balancer=False) == [
        'Service "frontend": type LoadBalancer is not allowed on this stack (use an Ingress or ClusterIP)'
    ]
    assert cluster.load_balancer_violations(k8s.SERVICE, service, allow_load_balancer=True) == []
    service["spec"]["type"] = "ClusterIP"
    assert cluster.load_balancer_violations(k8s.SERVICE, service, allow_load_balancer=False) == []


def test_proxy_like_mappings_are_read_without_dict_type() -> None:
    """The policy server passes read-only Mapping proxies, not dicts."""
    from types import MappingProxyType

    def freeze(value: Any) -> Any:
        if isinstance(value, dict):
            return MappingProxyType({k: freeze(v) for k, v in value.items()})
        if isinstance(value, list):
            return tuple(freeze(v) for v in value)
        return value

    broken = freeze(_broken(lambda p: _sc(p).update(privileged=True)))
    assert 'container "backend": privileged must not be true' in pod_security.pod_security_violations(DEPLOY, broken)
