"""dockyard: reads the stack's settings, wires the components, exports outputs."""

from pathlib import Path

import pulumi

from components.catalog import CATALOG, by_name, enabled_catalog
from components.docker_env import LocalEnvironment
from components.images import RegistryCredentials, ServiceImage, git_revision, plan_build
from components.kubernetes_env import KubernetesEnvironment, rendering
from components.preflight import (
    DockerEngine,
    PreflightError,
    docker_engine_problems,
    docker_host,
    kube_context_problems,
)
from components.promotion import PromotedImages
from components.secrets import StackSecrets
from components.settings import StackKind
from components.stack_config import configured_secrets, configured_values, validate

PROJECT_DIR = Path(__file__).resolve().parent

config = pulumi.Config("dockyard")
secret_config = configured_secrets(config)
settings = validate(pulumi.get_stack(), configured_values(), set(secret_config), PROJECT_DIR)
catalog = enabled_catalog(CATALOG, settings)
specs = by_name(catalog)

# --- what the stack drives must be there before anything is created ---
preflight_problems = []
engine = None
if settings.runs_docker:
    engine = DockerEngine(docker_host(pulumi.Config("docker").get("host")))
    preflight_problems += docker_engine_problems(engine)
if settings.runs_kubernetes and not rendering(settings):
    preflight_problems += kube_context_problems(settings.kubernetes.context)
if preflight_problems:
    raise PreflightError(pulumi.get_stack(), preflight_problems)

postgres = specs.get("postgres")
stack_secrets = StackSecrets(
    "secrets",
    postgres_env=postgres.env if postgres else None,
    postgres_host="postgres",
    postgres_port=postgres.port if postgres else 5432,
    external_database_url=secret_config.get("databaseUrl"),
)

credentials = None
if settings.images.registry and "registryPassword" in secret_config:
    credentials = RegistryCredentials(
        address=settings.images.registry.split("/", 1)[0],
        username=settings.images.registry_username,
        password=secret_config["registryPassword"],
    )
ca_bundle = None
if settings.images.ca_bundle:
    ca_bundle = pulumi.Output.secret((PROJECT_DIR / settings.images.ca_bundle).expanduser().read_text())

revision = git_revision(PROJECT_DIR)
built: dict[str, ServiceImage] = {}
if settings.builds_images:
    for spec in catalog:
        if spec.build is None:
            continue
        plan = plan_build(
            spec, settings.images, project_dir=PROJECT_DIR, revision=revision,
            load_into_daemon=settings.runs_docker,
            dev_stage=settings.dev.hot_reload,
        )
        built[spec.name] = ServiceImage(f"{spec.name}-image", plan, credentials=credentials, ca_bundle=ca_bundle)


def built_image(spec) -> ServiceImage | None:
    """The image this stack builds for `spec` (its own, or the one it shares), if any."""
    return built.get(spec.image_of or spec.name)


if settings.runs_docker:
    # Containers run the loaded image's ID: it changes with each rebuild, the tag does not.
    local = LocalEnvironment(
        "local",
        settings=settings,
        catalog=catalog,
        images={s.name: image.local_id if (image := built_image(s)) else s.image for s in catalog},
        secrets=stack_secrets.values,
        project_dir=PROJECT_DIR,
        engine=engine,
        swap_accounted=engine.swap_limit(),
    )
    pulumi.export("network", local.network.name)
    pulumi.export("urls", local.urls)

# --- Kubernetes target (Minikube in dev, staging, prod) and promotion ---
if settings.runs_kubernetes:
    built_names = sorted({spec.image_of or spec.name for spec in catalog if spec.build or spec.image_of})
    promoted = None
    revisions = {}
    if settings.kind is StackKind.PROD:
        # prod builds nothing: it deploys exactly the digests the source stack exports.
        promoted = PromotedImages("promotion", source_stack=settings.promotion.from_stack, services=built_names)
        built_refs = promoted.images
    elif settings.kind is StackKind.DEV:
        # Tags loaded into Minikube's daemon; their image IDs roll the pods on a rebuild.
        built_refs = {n: built[n].ref for n in built_names}
        revisions = {s.name: image.local_id for s in catalog if (image := built_image(s))}
    else:
        built_refs = {n: built[n].digest_ref for n in built_names}  # repository@sha256:…
    kubernetes = KubernetesEnvironment(
        "kubernetes",
        settings=settings,
        catalog=catalog,
        images={s.name: built_refs[s.image_of or s.name] if (s.build or s.image_of) else s.image for s in catalog},
        image_revisions=revisions,
        secrets=stack_secrets.values,
        promoted_from={s.name: settings.promotion.from_stack for s in catalog if promoted and (s.build or s.image_of)},
    )
    pulumi.export("kubernetes", {
        "namespace": settings.kubernetes.namespace, "url": kubernetes.url, "images": kubernetes.images,
        # Rendered manifests only: the Secrets to create in the cluster (name -> keys).
        **({"externalSecrets": kubernetes.external_secrets} if kubernetes.external_secrets else {}),
    })
    if promoted is not None:
        pulumi.export("promotedFrom", promoted.promoted_from)

pulumi.export("stackKind", settings.kind.value)
pulumi.export("imageRefs", {name: image.ref for name, image in built.items()})
if settings.images.push:
    # Only pushed images are exported for promotion: a loaded image exists on one machine.
    pulumi.export("images", {name: image.digest_ref for name, image in built.items()})
