"""`KubernetesEnvironment`: a resolved stack as one namespace of Kubernetes objects.

The objects are computed as plain API dicts by pod.py (the pod),
objects.py (workloads, Services, env, autoscaling, Ingress) and network.py
(NetworkPolicies); this component only turns them into resources through an explicit
provider, parents them and orders them (migrations Job before the backend rollout, each
Service after its workload, dependants after the Services they talk to). A StatefulSet also
gets its headless governing Service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config.settings import Settings
from components.core.names import (  # noqa: F401 (the suffix: tests read it here)
    EXTERNAL_SECRET_SUFFIX,
    external_secret_name,
)
from components.plan.resolve import Service
from components.plan.secrets import fill_secrets
from components.targets.args import EnvironmentArgs
from components.targets.kubernetes.manifest import Manifest
from components.targets.kubernetes.network import default_deny_manifest, dns_egress_manifest, network_policy_manifest
from components.targets.kubernetes.objects import (
    config_map_manifest,
    content_name,
    deployment_manifest,
    has_autoscaler,
    headless_service_manifest,
    hpa_manifest,
    ingress_manifest,
    is_stateful,
    job_manifest,
    job_name,
    namespace_manifest,
    pdb_manifest,
    secret_manifest,
    secret_name,
    service_account_manifest,
    service_manifest,
    stateful_set_manifest,
)
from components.targets.kubernetes.pod import WorkloadInputs, image_pull_policy

# A cold deploy waits on a chain (database, migrations Job, backend, frontend) behind image
# pulls: the default 10 minutes per object is too short for the end of that chain.
WORKLOAD_TIMEOUT = "20m"


def provider_args(settings: Settings) -> dict[str, Any]:
    kube = settings.kubernetes
    args: dict[str, Any] = {"namespace": kube.namespace, "enable_server_side_apply": True}
    if kube.render_yaml_to_directory:
        # GitOps: write the manifests instead of applying them (no cluster needed). The
        # provider refuses a context or a kubeconfig alongside it: the context is left out, and
        # the kubeconfig blanked, because the SDK would otherwise fill it in from $KUBECONFIG
        # (rendering then failed for anyone with KUBECONFIG set, as the real tier showed).
        args["render_yaml_to_directory"] = kube.render_yaml_to_directory
        args["kubeconfig"] = ""
    elif kube.context:
        args["context"] = kube.context
    return args


def rendering(settings: Settings) -> bool:
    return bool(settings.kubernetes.render_yaml_to_directory)


def _snake(key: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in key)


# Each kind's SDK class, called with its manifest's top-level fields as keyword arguments.
_KINDS: dict[str, Callable[..., pulumi.CustomResource]] = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "ConfigMap": k8s.core.v1.ConfigMap,
    "Secret": k8s.core.v1.Secret,
    "Service": k8s.core.v1.Service,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "Job": k8s.batch.v1.Job,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "Ingress": k8s.networking.v1.Ingress,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}


class _EnvObjects(TypedDict):
    """A service's env objects, for its pod and its workload."""

    config_map: str | None  # the plain-env ConfigMap's name
    secret: pulumi.Input[str] | None  # the secret-env Secret's name (an Output: it hashes the values)
    needs: list[pulumi.CustomResource]  # what the workload waits for


class KubernetesEnvironment(pulumi.ComponentResource):
    """The whole stack in one Kubernetes namespace.

    Outputs: `namespace`, `url` (the Ingress host), `images` (service -> the image reference
    deployed) and, for rendered manifests, `external_secrets` (Secret name -> keys).
    """

    def __init__(
        self,
        name: str,
        args: EnvironmentArgs,
        *,
        image_revisions: Mapping[str, pulumi.Input[str]] | None = None,
        promoted_from: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:KubernetesEnvironment", name, None, opts)
        stack, images, secrets = args.stack, args.images, args.secrets
        settings = stack.settings
        self._name = name
        self._settings = settings
        self._secrets = secrets
        self.provider = k8s.Provider(
            f"{name}-provider", **provider_args(settings), opts=pulumi.ResourceOptions(parent=self)
        )
        self.namespace = self._create(f"{name}-namespace", namespace_manifest(settings))
        self._create(f"{name}-default-deny", default_deny_manifest(settings), [self.namespace])
        self._create(f"{name}-allow-dns", dns_egress_manifest(settings), [self.namespace])
        # Generated once and kept (encrypted) in the stack's state: keys the Secret names.
        self._secret_salt = random.RandomBytes(
            f"{name}-secret-name-salt",
            length=32,
            opts=pulumi.ResourceOptions(parent=self),
        ).hex
        # service -> what dependants wait for: its Service (created once its pods are ready,
        # so its await finds endpoints at once) or, without one, the workload itself.
        self.ready: dict[str, pulumi.CustomResource] = {}
        image_revisions = image_revisions or {}
        promoted_from = promoted_from or {}
        for service in stack.services.values():  # start order
            self._service(
                service, images[service.name], image_revisions.get(service.name), promoted_from.get(service.name)
            )
        routed = next((service for service in stack.services.values() if service.routed), None)
        if routed is not None:
            self._create(
                f"{name}-ingress", ingress_manifest(routed.spec, settings), [self.namespace, self.ready[routed.name]]
            )
        # What rendered manifests expect to find in the cluster: Secret names and keys, no values.
        self.external_secrets = (
            {external_secret_name(s.name): list(s.secret_env) for s in stack.services.values() if s.secret_env}
            if rendering(settings)
            else {}
        )
        self.url = (
            "https://" if settings.kubernetes.ingress.tls_secret else "http://"
        ) + settings.kubernetes.ingress.host
        self.images = dict(images)
        self.register_outputs(
            {
                "namespace": settings.kubernetes.namespace,
                "url": self.url,
                "images": self.images,
            }
        )

    def _create(
        self,
        resource_name: str,
        manifest: Manifest,
        depends_on: Sequence[pulumi.Resource] | None = None,
        custom_timeouts: pulumi.CustomTimeouts | None = None,
    ) -> pulumi.CustomResource:
        kind = manifest["kind"]
        # Top-level fields are the SDK's keyword arguments (snake_case); nested dicts keep
        # the Kubernetes API's camelCase and pass through as they are.
        body = {_snake(key): value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
        return _KINDS[kind](
            resource_name,
            **body,
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=depends_on or [], custom_timeouts=custom_timeouts
            ),
        )

    def _env_objects(self, service: Service) -> _EnvObjects:
        """The service's env ConfigMap and Secret: their names for the pod, and the resources
        (`needs`) its workload waits for."""
        settings, spec = self._settings, service.spec
        prefix = f"{self._name}-{service.name}"
        result: _EnvObjects = {"config_map": None, "secret": None, "needs": []}  # nosec B105 -- a dict key; the value is None
        if service.plain_env:
            result["config_map"] = content_name(f"{service.name}-env", service.plain_env)
            result["needs"].append(
                self._create(
                    f"{prefix}-env",
                    config_map_manifest(spec, settings, service.plain_env),
                    [self.namespace],
                )
            )
        if not service.secret_env:
            return result
        if rendering(settings):
            # renderYamlToDirectory would write the values (base64) into the files.
            result["secret"] = external_secret_name(service.name)
            return result
        values = {key: fill_secrets(template, self._secrets) for key, template in service.secret_env.items()}
        # The name's hash is keyed with the secret salt, so it reveals nothing about the
        # values and need not be secret: pod templates that use it stay readable in diffs.
        prefix_of_name = f"{service.name}-secrets"
        result["secret"] = pulumi.Output.unsecret(
            pulumi.Output.all(self._secret_salt, pulumi.Output.all(**values)).apply(
                lambda args: secret_name(prefix_of_name, args[1], args[0])
            )
        )
        result["needs"].append(
            self._create(
                f"{prefix}-secret",
                secret_manifest(spec, settings, result["secret"], values),
                [self.namespace],
            )
        )
        return result

    def _service(
        self,
        service: Service,
        image: pulumi.Input[str],
        image_revision: pulumi.Input[str] | None,
        promoted_from: str | None,
    ) -> None:
        name, settings, spec = self._name, self._settings, service.spec
        base = [self.namespace]
        prefix = f"{name}-{service.name}"
        account = self._create(f"{prefix}-sa", service_account_manifest(spec, settings), base)
        env = self._env_objects(service)
        workload_inputs = WorkloadInputs(
            image=image,
            image_pull_policy=image_pull_policy(service, settings),
            config_map=env["config_map"],
            secret=env["secret"],
            image_revision=image_revision,
        )
        needs = [*base, account, *env["needs"], *(self.ready[d] for d in service.depends_on)]
        timeouts = pulumi.CustomTimeouts(create=WORKLOAD_TIMEOUT, update=WORKLOAD_TIMEOUT)
        if spec.one_shot:
            # Named after the image (its ID when the tag is reused): each new image runs it again.
            job_name_output = pulumi.Output.from_input(image_revision or image).apply(
                lambda ref: job_name(service.name, ref)
            )
            workload = self._create(
                f"{prefix}-job",
                job_manifest(service, settings, workload_inputs, job_name_output, promoted_from),
                needs,
                custom_timeouts=timeouts,
            )
        elif is_stateful(spec):
            workload = self._create(
                f"{prefix}-statefulset",
                stateful_set_manifest(service, settings, workload_inputs),
                needs,
                custom_timeouts=timeouts,
            )
        else:
            # depends_on the migrations Job: Pulumi waits for the Job to complete first. A
            # release (an update) that never gets ready fails after kubernetes.rolloutTimeoutSeconds.
            workload = self._create(
                f"{prefix}-deployment",
                deployment_manifest(service, settings, workload_inputs, promoted_from),
                needs,
                custom_timeouts=pulumi.CustomTimeouts(
                    create=WORKLOAD_TIMEOUT, update=f"{settings.kubernetes.rollout_timeout_seconds}s"
                ),
            )
            if has_autoscaler(service):
                self._create(f"{prefix}-hpa", hpa_manifest(service, settings), [workload])
                self._create(f"{prefix}-pdb", pdb_manifest(spec, settings), base)
        ready = workload
        if spec.port and spec.long_running:
            ready = self._create(f"{prefix}-service", service_manifest(spec, settings), [*base, workload])
        if is_stateful(spec):
            # After the workload too: the provider's Service await then finds its endpoints at once.
            self._create(f"{prefix}-headless", headless_service_manifest(spec, settings), [*base, workload])
        self._create(f"{prefix}-netpol", network_policy_manifest(service, settings), base)
        self.ready[service.name] = ready
