"""dockyard: the architecture on one page.

config -> plan -> images -> targets: the catalog (catalog.yaml) and the stack's settings are
validated together, then resolved once into what this stack runs; images are built (or, in
prod, promoted); the Docker and the Kubernetes environments render the same resolved stack.
"""

from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.config.catalog_file import catalog_path, load_catalog
from components.config.stack_config import configured_secrets, configured_values
from components.core.cancellation import exit_quietly_when_cancelled
from components.images.contract import require_build_contract
from components.images.promotion import PromotedImages
from components.images.service_image import RegistryCredentials, ServiceImage, git_revision, plan_build
from components.plan.image_decisions import image_decisions
from components.plan.resolve import resolve_view
from components.plan.secrets import StackSecrets
from components.plan.validate import checked_view
from components.targets.args import EnvironmentArgs
from components.targets.docker.environment import DockerEnvironment
from components.targets.docker.preflight import docker_preflight, docker_provider_args
from components.targets.host import PreflightError, current_host
from components.targets.kubernetes.environment import KubernetesEnvironment, rendering
from components.targets.kubernetes.preflight import kube_context_problems

PROJECT_DIR = Path(__file__).resolve().parent
exit_quietly_when_cancelled()  # a failed update's error stands alone, without SDK tracebacks
catalog = load_catalog(catalog_path(PROJECT_DIR))
require_build_contract(catalog, PROJECT_DIR)  # each built service's Dockerfile has its stages

# --- config and plan: settings validated with the catalog, then resolved once for this stack ---
secret_config = configured_secrets(pulumi.Config("dockyard"), catalog)
view = checked_view(pulumi.get_stack(), configured_values(catalog), set(secret_config), PROJECT_DIR, catalog)
settings = view.settings
stack = resolve_view(view)
decisions = image_decisions(settings)

# --- what the stack drives must be there before anything is created ---
host = current_host()
preflight_problems = []
engine = None
if settings.runs_docker:
    # The engine the docker CLI would use (unless docker:host / docker:context name one), said in
    # the update's first lines; the preflight, the health checks and the provider all talk to it.
    # Then, once it answers, the engine's machine: a published port something else holds, a nearly full disk.
    engine, engine_problems = docker_preflight(pulumi.Config("docker"), host, stack, builds=decisions.builds)
    preflight_problems += engine_problems
if settings.runs_kubernetes and not rendering(settings):
    preflight_problems += kube_context_problems(settings.kubernetes.context, host.kube_contexts)
if preflight_problems:
    raise PreflightError(pulumi.get_stack(), preflight_problems)

# Docker resources (the loaded images' reads, the local environment) go through this provider.
on_engine = None
if engine is not None:
    provider = docker.Provider("docker-engine", **docker_provider_args(engine.endpoint))
    on_engine = pulumi.ResourceOptions(providers=[provider])

stack_secrets = StackSecrets("secrets", secrets=stack.secrets, config_secrets=secret_config)

# --- images: built with BuildKit (dev, staging) ---
credentials = None
if decisions.registry_host and "registryPassword" in secret_config:
    credentials = RegistryCredentials(
        address=decisions.registry_host,
        username=settings.images.registry_username,
        password=secret_config["registryPassword"],
    )
ca_bundle = None
if settings.images.ca_bundle:
    ca_bundle = pulumi.Output.secret((PROJECT_DIR / settings.images.ca_bundle).expanduser().read_text())
revision = git_revision(PROJECT_DIR)
built: dict[str, ServiceImage] = {}
if decisions.builds:
    for name in stack.built:
        plan = plan_build(
            stack.services[name].spec,
            settings.images,
            project_dir=PROJECT_DIR,
            revision=revision,
            load_into_daemon=decisions.load_into_daemon,
            dev_stage=stack.services[name].dev_stage,  # dev.hotReload, dev.debug
        )
        built[name] = ServiceImage(f"{name}-image", plan, credentials=credentials, ca_bundle=ca_bundle, opts=on_engine)
loaded_ids = {name: image.local_id for name, image in built.items()}  # change with each rebuild

# --- targets: Docker (containers run the loaded image's ID) ---
if engine is not None:  # settings.runs_docker: the preflight found the engine (or stopped the update)
    local = DockerEnvironment(
        "local",
        EnvironmentArgs(stack=stack, images=stack.image_refs(loaded_ids), secrets=stack_secrets.values),
        project_dir=PROJECT_DIR,
        engine=engine,
        swap_accounted=engine.swap_limit(),
        opts=on_engine,
    )
    pulumi.export("network", local.network.name)
    pulumi.export("urls", local.urls)
    if local.debug:  # dev.debug: service -> 127.0.0.1:<port> its debugger listens on
        pulumi.export("debug", local.debug)

# --- targets: Kubernetes (Minikube in dev, staging, prod), with promotion in prod ---
if settings.runs_kubernetes:
    promoted = None
    source_stack = decisions.promotes_from  # set for promoted images only (prod: KubernetesImages.PROMOTED)
    if source_stack is not None:
        promoted = PromotedImages("promotion", source_stack=source_stack, services=stack.built)
        built_refs = promoted.images
    else:
        built_refs = {name: image.reference_for(decisions.kubernetes) for name, image in built.items()}
    kubernetes = KubernetesEnvironment(
        "kubernetes",
        EnvironmentArgs(stack=stack, images=stack.image_refs(built_refs), secrets=stack_secrets.values),
        image_revisions=stack.image_refs(loaded_ids, built_only=True) if decisions.rolls_on_image_id else {},
        promoted_from={name: source_stack for name in stack.on_built_images} if source_stack is not None else None,
    )
    pulumi.export(
        "kubernetes",
        {
            "namespace": settings.kubernetes.namespace,
            "url": kubernetes.url,
            "images": kubernetes.images,
            # Rendered manifests only: the Secrets to create in the cluster (name -> keys).
            **({"externalSecrets": kubernetes.external_secrets} if kubernetes.external_secrets else {}),
        },
    )
    if promoted is not None:
        pulumi.export("promotedFrom", promoted.promoted_from)

pulumi.export("stackKind", settings.kind.value)
pulumi.export("revision", revision.commit)  # the release running now: what a failed deploy redeploys
pulumi.export("imageRefs", {name: image.ref for name, image in built.items()})
if decisions.exports_digests:
    # Only pushed images are exported for promotion: a loaded image exists on one machine.
    pulumi.export("images", {name: image.digest_ref for name, image in built.items()})
