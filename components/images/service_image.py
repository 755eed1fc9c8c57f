"""`ServiceImage`: one BuildKit build of a catalog service -> `ref`, `digest_ref`, `local_id`.

`plan_build` decides everything (tags, labels, build args, cache) from plain data;
the component only turns that plan into a `pulumi_docker_build.Image`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pulumi
import pulumi_docker as docker
import pulumi_docker_build as docker_build

from components.config.catalog import ServiceSpec
from components.config.settings import ImageSettings
from components.plan.image_decisions import KubernetesImages

CA_BUNDLE_SECRET_ID = "ca_bundle"  # the Dockerfiles mount it with this id  # nosec B105 -- the BuildKit secret's id, not its value
LOCAL_REPOSITORY_PREFIX = "dockyard"


@dataclass(frozen=True)
class BuildPlan:
    """What one image build asks BuildKit for."""

    repository: str
    tags: tuple[str, ...]
    context: str
    dockerfile: str
    target: str
    build_args: dict[str, str]
    labels: dict[str, str]
    platforms: tuple[str, ...]
    push: bool
    load: bool
    builder: str | None
    registry_cache_ref: str | None  # None: inline cache
    build_on_preview: bool


def _git(project_dir: Path, *args: str) -> str:
    """A git answer about the checkout, or `unknown` outside one."""
    try:
        result = subprocess.run(  # nosec B603 B607 -- argv list, no shell; git from PATH
            ["git", "-C", str(project_dir), *args],
            capture_output=True, text=True, check=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


@dataclass(frozen=True)
class Revision:
    """The commit being built and the paths changed since it (uncommitted edits)."""

    commit: str  # "unknown" outside a checkout
    changed: tuple[str, ...] = ()

    def touches(self, project_dir: Path, context: Path) -> bool:
        """Whether an uncommitted change lies in `context`."""
        relative = context.resolve().relative_to(project_dir.resolve()).as_posix()
        if relative == ".":
            return bool(self.changed)
        return any(path.startswith(relative + "/") for path in self.changed)


def source_commit(project_dir: Path, revision: Revision, context: Path) -> str:
    """The last commit that changed `context`: what an image built from it is labelled and tagged
    with. A commit elsewhere (another service's source) leaves the image, its digest and so its
    pods as they were; HEAD outside a checkout or when git cannot say."""
    if revision.commit == "unknown":
        return revision.commit
    relative = context.resolve().relative_to(project_dir.resolve()).as_posix()
    last = _git(project_dir, "log", "-1", "--format=%H", revision.commit, "--", relative)
    return revision.commit if last == "unknown" else last


def git_revision(project_dir: Path) -> Revision:
    """The commit being built and what differs from it in the working tree."""
    commit = _git(project_dir, "rev-parse", "HEAD")
    # Paths relative to project_dir (ls-files answers relative to where it runs).
    listed = _git(project_dir, "ls-files", "--modified", "--deleted", "--others", "--exclude-standard")
    return Revision(commit, () if listed == "unknown" else tuple(sorted(set(listed.splitlines()))))


def without_credentials(url: str) -> str:
    """`https://user:token@host/repo` -> `https://host/repo`: a label is public."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def source_url(images: ImageSettings, project_dir: Path) -> str:
    """Where the image's source lives: `images.sourceUrl`, else the checkout's origin remote."""
    return without_credentials(images.source_url or _git(project_dir, "config", "--get", "remote.origin.url"))


def repository_for(service: str, images: ImageSettings) -> str:
    registry = images.registry.rstrip("/")
    return f"{registry}/{service}" if registry else f"{LOCAL_REPOSITORY_PREFIX}/{service}"


def tags_for(repository: str, version: str, revision: str, *, dirty: bool = False, dev_stage: bool = False) -> tuple[str, ...]:
    """The version tag, plus one naming the commit so any build traces back to source:
    `-dirty` when the context has uncommitted changes (the commit alone did not make it),
    `-dev` for the dev stage (another image than the runtime one built from the same commit)."""
    tags = [f"{repository}:{version}"]
    if revision != "unknown":
        tags.append(f"{repository}:git-{revision[:12]}{'-dirty' if dirty else ''}{'-dev' if dev_stage else ''}")
    return tuple(tags)


def plan_build(
    spec: ServiceSpec,
    images: ImageSettings,
    *,
    project_dir: Path,
    revision: Revision,
    load_into_daemon: bool,
    dev_stage: bool,
) -> BuildPlan:
    if spec.build is None:
        raise ValueError(f"service {spec.name!r} is not built from this repository")
    repository = repository_for(spec.name, images)
    context = project_dir / spec.build.context
    base_image = images.base_images.get(spec.name, spec.build.base_image)
    # The runtime stage's base must carry base_image's interpreter: a replaced base_image
    # replaces the catalog's runtime default too.
    runtime_base_image = images.runtime_base_images.get(spec.name) or (
        None if spec.name in images.base_images else spec.build.runtime_base_image
    ) or base_image
    target = spec.build.dev_target if dev_stage else spec.build.target
    commit = source_commit(project_dir, revision, context)
    return BuildPlan(
        repository=repository,
        tags=tags_for(repository, images.tag, commit,
                      dirty=revision.touches(project_dir, context), dev_stage=dev_stage),
        context=str(context),
        dockerfile=str(context / "Dockerfile"),
        target=target,
        build_args={"BASE_IMAGE": base_image, "RUNTIME_BASE_IMAGE": runtime_base_image, "APP_VERSION": images.tag},
        labels={
            "org.opencontainers.image.title": spec.name,
            "org.opencontainers.image.source": source_url(images, project_dir),
            "org.opencontainers.image.revision": commit,
            "org.opencontainers.image.version": images.tag,
            "org.opencontainers.image.base.name": runtime_base_image if target == spec.build.target else base_image,
        },
        platforms=tuple(platform.value for platform in images.platforms),
        push=images.push,
        load=load_into_daemon,
        builder=images.builder or None,
        registry_cache_ref=f"{repository}:buildcache" if images.builder else None,
        build_on_preview=images.build_on_preview,
    )


def _cache_args(
    plan: BuildPlan,
) -> tuple[list[docker_build.CacheFromArgs] | None, list[docker_build.CacheToArgs] | None]:
    """Registry cache (mode max, OCI image manifest) with a named buildx builder. Without
    one, docker-build picks or creates a docker-container builder whose own local cache
    serves rebuilds; a pushed image also carries an inline cache for the next builder."""
    if plan.registry_cache_ref:
        cache_from = [docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=plan.registry_cache_ref))]
        cache_to = [docker_build.CacheToArgs(registry=docker_build.CacheToRegistryArgs(
            ref=plan.registry_cache_ref,
            mode=docker_build.CacheMode.MAX,
            image_manifest=True,
            oci_media_types=True,
        ))]
        return cache_from, cache_to
    if plan.push:
        cache_from = [docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=plan.tags[0]))]
        return cache_from, [docker_build.CacheToArgs(inline=docker_build.CacheToInlineArgs())]
    return None, None


@dataclass(frozen=True)
class RegistryCredentials:
    address: str
    username: str
    password: pulumi.Input[str]


class ServiceImage(pulumi.ComponentResource):
    """One service image built with BuildKit.

    Outputs:
    - `ref`: the first tag, or `tag@digest` once pushed;
    - `digest_ref`: `repository@sha256:…` when pushed, else None (a loaded image has a
      digest too, but no registry serves it: exporting it would invite a promotion of
      something that exists only on one machine);
    - `local_id`: the image ID in the local engine when loaded, else None. It changes
      with every rebuild while the tag does not, so containers that run it are replaced.
    """

    ref: pulumi.Output[str]
    digest_ref: pulumi.Output[str] | None
    local_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        plan: BuildPlan,
        *,
        credentials: RegistryCredentials | None = None,
        ca_bundle: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:ServiceImage", name, None, opts)
        cache_from, cache_to = _cache_args(plan)
        image = docker_build.Image(
            name,
            context=docker_build.BuildContextArgs(location=plan.context),
            dockerfile=docker_build.DockerfileArgs(location=plan.dockerfile),
            target=plan.target,
            build_args=plan.build_args,
            labels=plan.labels,
            tags=list(plan.tags),
            platforms=[docker_build.Platform(platform) for platform in plan.platforms],
            push=plan.push,
            load=plan.load,
            builder=docker_build.BuilderConfigArgs(name=plan.builder) if plan.builder else None,
            cache_from=cache_from,
            cache_to=cache_to,
            registries=[docker_build.RegistryArgs(
                address=credentials.address,
                username=credentials.username,
                password=credentials.password,
            )] if credentials else None,
            secrets={CA_BUNDLE_SECRET_ID: ca_bundle} if ca_bundle is not None else None,
            build_on_preview=plan.build_on_preview,
            # docker-build's delete removes the pushed manifests from the registry: a
            # `destroy` of staging (or a renamed service) would delete what prod runs.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=plan.push),
        )
        self.tag = plan.tags[0]
        # docker-build's `ref` is the first tag at the build's digest, for a loaded build too; an
        # image that was only loaded has no repo digest, so the engine cannot resolve that form:
        # a loaded build's reference is its tag.
        self.ref = image.ref if plan.push else pulumi.Output.from_input(self.tag)
        self.digest_ref = (
            image.digest.apply(lambda digest: f"{plan.repository}@{digest}") if plan.push else None
        )
        self.local_id = self._local_id(name, plan, image) if plan.load else None
        self.register_outputs({"ref": self.ref, "digest_ref": self.digest_ref, "local_id": self.local_id})

    def reference_for(self, wanted: KubernetesImages) -> pulumi.Output[str]:
        """The reference a Kubernetes target runs (plan/image_decisions.py decides which, per stack kind)."""
        if wanted is KubernetesImages.LOADED_TAG:
            # The tag (not a digest form the daemon cannot resolve); pods roll on the image ID.
            return pulumi.Output.from_input(self.tag)
        if wanted is KubernetesImages.PUSHED_DIGEST and self.digest_ref is not None:
            return self.digest_ref
        raise ValueError(f"this build has no {wanted.value} (push: {self.digest_ref is not None})")

    def _local_id(self, name: str, plan: BuildPlan, image: docker_build.Image) -> pulumi.Output[str]:
        """The loaded image's ID, read from the local engine after each build: the build's
        digest triggers a new read, keep_locally leaves the image to the engine's owner."""
        loaded = docker.RemoteImage(
            f"{name}-loaded",
            name=plan.tags[0],
            keep_locally=True,
            pull_triggers=[image.digest],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[image]),
        )
        return loaded.image_id
