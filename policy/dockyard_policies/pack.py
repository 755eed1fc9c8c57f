"""The dockyard policy pack: one declarative table of rules, turned into pulumi_policy objects.

Every rule's logic is a pure function in kubernetes/, docker.py or builds.py; this module only
names it, says why it exists, declares its config, and adapts it to the policy SDK. It is what
__main__.py hands the Pulumi CLI; tests/policy/evaluator.py runs the same objects in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import builds, docker
from .common import (
    CAPABILITIES_OPT_OUT,
    ONE_SHOT_LABEL,
    READ_ONLY_ROOT_OPT_OUT,
    Finding,
    StackResource,
    config_flag,
    opt_out_key,
)
from .kubernetes import cluster, containers, pod_security

PACK_NAME = "dockyard"
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY



@dataclass(frozen=True)
class ResourceCheck:
    """A rule over one resource: (type, props, flag settings) -> violation messages."""

    run: Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class StackCheck:
    """A rule over the whole stack: (resources, flag settings) -> findings (message, urn)."""

    run: Callable[[Sequence[StackResource], Mapping[str, Any]], list[Finding]]


@dataclass(frozen=True)
class Flag:
    """A boolean config property of one policy, with its default and what it switches."""

    name: str
    default: bool
    description: str


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: ResourceCheck | StackCheck
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    @property
    def stack(self) -> bool:
        """A stack rule sees every resource at once (StackValidationPolicy)."""
        return isinstance(self.check, StackCheck)

    def config_schema(self) -> PolicyConfigSchema | None:
        if not self.flags:
            return None
        return PolicyConfigSchema(
            properties={
                f.name: {
                    "type": "boolean",
                    "default": f.default,
                    "description": f.description,
                }
                for f in self.flags
            }
        )

    def settings(self, config: Mapping[str, Any] | None) -> dict[str, bool]:
        """Resolved flag values: config when given, else the schema default."""
        return {f.name: config_flag(config, f.name, f.default) for f in self.flags}


def _plain(check: Callable[[str, Mapping[str, Any]], list[str]]) -> ResourceCheck:
    return ResourceCheck(lambda resource_type, props, _settings: check(resource_type, props))


def _stack(check: Callable[[Sequence[StackResource]], list[Finding]]) -> StackCheck:
    return StackCheck(lambda resources, _settings: check(resources))


RULES: tuple[Rule, ...] = (
    # Kubernetes workloads
    Rule(
        "k8s-pod-security-restricted",
        "Pods meet the Kubernetes 'restricted' Pod Security Standard (non-root, no privilege escalation, "
        "capabilities dropped, seccomp, no host namespaces/paths/ports, safe volume types), so a compromised "
        "container cannot reach the node.",
        _plain(pod_security.pod_security_violations),
    ),
    Rule(
        "k8s-read-only-root-filesystem",
        "Containers run on a read-only root filesystem so an attacker cannot persist or alter binaries; "
        "writable paths are explicit emptyDir mounts. Opt out only with annotation "
        f"{opt_out_key(READ_ONLY_ROOT_OPT_OUT)} naming the reason.",
        _plain(containers.read_only_root_violations),
    ),
    Rule(
        "k8s-resource-requests-limits",
        "Every container requests and limits CPU and memory so the scheduler can place it and one "
        "workload cannot starve its neighbours.",
        _plain(containers.resource_violations),
    ),
    Rule(
        "k8s-ephemeral-storage",
        "Every container requests and limits ephemeral-storage and every emptyDir has a sizeLimit, so a "
        "runaway temp or log file gets its own pod evicted instead of filling the node and evicting its neighbours.",
        _plain(containers.ephemeral_storage_violations),
    ),
    Rule(
        "k8s-health-probes",
        "Long-running containers have liveness and readiness probes so Kubernetes restarts hung "
        "processes and routes traffic only to ready pods; liveness is not the readiness check, so a "
        "dependency's outage does not restart healthy pods.",
        _plain(containers.probe_violations),
    ),
    Rule(
        "k8s-image-pinning",
        "Images are pinned (a version tag, never latest; a sha256 digest where requireDigests) so every "
        "environment runs exactly the bytes that were tested.",
        ResourceCheck(lambda t, p, s: containers.image_violations(t, p, s["requireDigests"])),
        flags=(
            Flag(
                "requireDigests",
                False,
                "Require @sha256 digest-pinned images (staging/prod deploy by digest).",
            ),
        ),
    ),
    Rule(
        "k8s-no-literal-secrets-in-env",
        "Secret-looking environment variables (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL) come from a "
        "Secret (valueFrom) or a mounted file, so credentials never sit in plain text in the manifest or the state.",
        _plain(containers.env_secret_violations),
    ),
    Rule(
        "k8s-no-load-balancer",
        "Services are not exposed through a cloud LoadBalancer (traffic enters through the Ingress) "
        "unless the stack sets allowLoadBalancer.",
        ResourceCheck(lambda t, p, s: cluster.load_balancer_violations(t, p, s["allowLoadBalancer"])),
        flags=(
            Flag(
                "allowLoadBalancer",
                False,
                "Allow Services of type LoadBalancer on this stack.",
            ),
        ),
    ),
    Rule(
        "k8s-service-account-token",
        "Pods do not mount a Kubernetes API token they do not need (automountServiceAccountToken false "
        "on the pod spec or its ServiceAccount), so a compromised pod cannot talk to the API server.",
        _stack(cluster.service_account_token_violations),
    ),
    Rule(
        "k8s-namespace-isolation",
        "Every Namespace denies all ingress and egress by default (a NetworkPolicy with podSelector {} and "
        "no rules) and enforces the restricted Pod Security Admission level, so only declared traffic "
        "flows and the cluster itself rejects unsafe pods.",
        _stack(cluster.namespace_isolation_violations),
    ),
    Rule(
        "k8s-statefulset-headless-service",
        "Every StatefulSet's serviceName names a headless Service (clusterIP None) in its namespace: the "
        "governing Service gives each pod its stable DNS name.",
        _stack(cluster.headless_governing_service_violations),
    ),
    Rule(
        "k8s-pod-disruption-budget",
        "Workloads with more than one replica have a PodDisruptionBudget so node drains and upgrades "
        "never take every replica down at once.",
        _stack(cluster.pod_disruption_budget_violations),
    ),
    # Local Docker containers
    Rule(
        "docker-non-root-user",
        "Containers run as an explicit non-root user so a breakout does not start as root on the host.",
        _plain(docker.user_violations),
    ),
    Rule(
        "docker-read-only-root",
        "Containers run with a read-only root filesystem (writable tmpfs/volumes are explicit); opt out "
        f"only with label {opt_out_key(READ_ONLY_ROOT_OPT_OUT)} naming the reason.",
        _plain(docker.read_only_root_violations),
    ),
    Rule(
        "docker-capabilities",
        "Containers drop ALL Linux capabilities; adding one back needs label "
        f"{opt_out_key(CAPABILITIES_OPT_OUT)} naming the reason.",
        _plain(docker.capability_violations),
    ),
    Rule(
        "docker-no-new-privileges",
        "Containers set no-new-privileges so setuid binaries cannot raise privileges.",
        _plain(docker.no_new_privileges_violations),
    ),
    Rule(
        "docker-memory-limit",
        "Containers have a memory limit so one runaway process cannot exhaust the machine.",
        _plain(docker.memory_violations),
    ),
    Rule(
        "docker-health-check",
        "Long-running containers have a health check so start order waits for healthy dependencies; "
        f"run-to-completion containers say so with label {ONE_SHOT_LABEL}=true.",
        _plain(docker.health_check_violations),
    ),
    Rule(
        "docker-loopback-ports",
        "Published ports bind to 127.0.0.1 so a laptop's services are not reachable from its network "
        "(requireLoopbackPorts, default true).",
        ResourceCheck(lambda t, p, s: docker.port_violations(t, p, s["requireLoopbackPorts"])),
        flags=(
            Flag(
                "requireLoopbackPorts",
                True,
                "Require published ports to bind to a loopback address.",
            ),
        ),
    ),
    Rule(
        "docker-no-host-access",
        "Containers are not privileged and do not share the host's network, PID or IPC namespace.",
        _plain(docker.host_access_violations),
    ),
    # Image builds
    Rule(
        "build-no-latest-tag",
        "Pushed images carry version tags, never latest (explicit or implied), so a deploy names exactly one build.",
        _plain(builds.tag_violations),
    ),
    Rule(
        "build-push-needs-registry",
        "An image is pushed only with a registry entry (address and credentials) so the push "
        "authenticates against a declared registry.",
        _plain(builds.registry_violations),
    ),
    Rule(
        "build-no-secret-build-args",
        "Secret-looking build args are forbidden: build args are recorded in the image's metadata; "
        "use BuildKit secrets instead.",
        _plain(builds.build_arg_violations),
    ),
    Rule(
        "build-registry-cache",
        "Builds in CI export their layer cache to a registry so each run reuses the last one (requireRegistryCache).",
        ResourceCheck(lambda t, p, s: builds.cache_violations(t, p, s["requireRegistryCache"])),
        flags=(
            Flag(
                "requireRegistryCache",
                False,
                "Require a registry cacheTo entry (stacks that build in CI).",
            ),
        ),
    ),
)


def _resource_validator(
    rule: Rule, check: ResourceCheck
) -> Callable[[ResourceValidationArgs, Callable[..., None]], None]:
    def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
        settings = rule.settings(args.get_config())
        for message in check.run(args.resource_type, args.props, settings):
            report_violation(message, None)

    return validate


def _stack_validator(
    rule: Rule, check: StackCheck
) -> Callable[[StackValidationArgs, Callable[..., None]], None]:
    def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
        settings = rule.settings(args.get_config())
        for finding in check.run(_stack_resources(args.resources), settings):
            report_violation(finding.message, finding.urn)

    return validate


def _stack_resources(policy_resources: Iterable[PolicyResource]) -> list[StackResource]:
    """The policy server's PolicyResource objects as the plain StackResource tuples the stack rules take."""
    return [StackResource(r.resource_type, r.name, r.props, r.urn) for r in policy_resources]


def build_policies() -> list[Policy]:
    """The pulumi_policy objects of the pack, every one mandatory unless config says otherwise."""
    policies: list[Policy] = []
    for rule in RULES:
        if isinstance(rule.check, StackCheck):
            policies.append(
                StackValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=_stack_validator(rule, rule.check),
                    enforcement_level=DEFAULT_ENFORCEMENT,
                    config_schema=rule.config_schema(),
                )
            )
        else:
            policies.append(
                ResourceValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=_resource_validator(rule, rule.check),
                    enforcement_level=DEFAULT_ENFORCEMENT,
                    config_schema=rule.config_schema(),
                )
            )
    return policies
