"""Trial staging and prod stacks on this machine's cluster (machine/local_cluster/cluster.sh): staging builds
on the `dockyard-buildkit` builder from air-gapped bases pushed to the loopback registry,
pushes by digest with a registry build cache, and deploys to a namespace of its own; prod
promotes its digests through a StackReference in the same file backend. The checked-in
Pulumi.staging.yaml / Pulumi.prod.yaml are the starting point; only what cannot be had here
changes (registry, bases, namespaces, the ingress host). The real tier uses it."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from machine.base_images import air_gapped
from machine.base_images.air_gapped import BUILDER, CA_BUNDLE, REGISTRY
from testing.trial_stack import PROJECT_DIR, Project, copied_project, tag_of

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
DATABASE_URL = "postgresql+psycopg://todo:trial@db.example.invalid:5432/todo"  # prod's external database


def _run(args: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def registry_call(method: str, repository: str, reference: str) -> tuple[int, str]:
    """(HTTP status, Docker-Content-Digest) of a manifest on the loopback registry."""
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repository}/manifests/{reference}", method=method, headers={"Accept": MANIFEST_TYPES}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError as error:
        return error.code, ""


def push_bases(repository: str) -> tuple[dict[str, str], dict[str, str]]:
    """The air-gapped bases of every build, pushed under `<registry>/<repository>/` as `make up`
    pushes them (machine/base_images/air_gapped.py): (baseImages, runtimeBaseImages) for the stack settings."""
    bases, _ = air_gapped.wanted_images(PROJECT_DIR, {})
    pushed = air_gapped.build_settings(bases, repository)
    return pushed["baseImages"], pushed["runtimeBaseImages"]


def delete_manifest(repository: str, reference: str) -> None:
    """Remove a tag's manifest (and so the tag) we pushed; blobs stay until the registry's GC."""
    status, digest = registry_call("HEAD", repository, reference)
    if status == 200 and digest:
        registry_call("DELETE", repository, digest)


def registry_repositories(prefix: str) -> list[str]:
    """The loopback registry's repositories whose names start with `prefix`."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/_catalog?n=10000", timeout=15) as response:
            return [name for name in json.load(response).get("repositories") or [] if name.startswith(prefix)]
    except (urllib.error.URLError, ValueError):
        return []


def delete_repository_tags(repository: str) -> None:
    """Remove every tag of a repository we pushed."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=15) as response:
            tags = json.load(response).get("tags") or []
    except (urllib.error.URLError, ValueError):
        return
    for tag in tags:
        delete_manifest(repository, tag)


def checked_in_config(kind: str) -> dict:
    return yaml.safe_load((PROJECT_DIR / f"Pulumi.{kind}.yaml").read_text())["config"]


def staging_config(stack: str, bases: tuple[dict[str, str], dict[str, str]]) -> dict:
    """Pulumi.staging.yaml with the loopback registry, the remote builder, the pushed bases,
    a tag and a namespace of the run's own."""
    config = checked_in_config("staging")
    images = dict(config["dockyard:images"])
    images.update(
        registry=f"{REGISTRY}/{stack}",
        tag=tag_of(stack),
        builder=BUILDER,
        caBundle=CA_BUNDLE,
        baseImages=bases[0],
        runtimeBaseImages=bases[1],
    )
    images.pop("registryUsername", None)  # the loopback registry takes no login
    return {**config, "dockyard:images": images, "dockyard:kubernetes": in_namespace(config, stack)}


def prod_config(stack: str, source_stack: str) -> dict:
    """Pulumi.prod.yaml promoting from `source_stack` (a stack of this project and backend)."""
    config = checked_in_config("prod")
    return {
        **config,
        "dockyard:promotion": {"fromStack": f"organization/dockyard/{source_stack}"},
        "dockyard:kubernetes": in_namespace(config, stack),
    }


def in_namespace(config: dict, stack: str) -> dict:
    """The config's kubernetes settings in a namespace (and ingress host) of the stack's own."""
    kubernetes = dict(config["dockyard:kubernetes"])
    kubernetes["namespace"] = stack  # its own namespace: runs never share objects
    kubernetes["ingress"] = {**kubernetes["ingress"], "host": f"{stack}.dockyard.localhost"}
    return kubernetes


def new_cluster_project(tmp: Path, kubeconfig: Path) -> Project:
    """A copy of the checkout and a file backend for this run's staging and prod stacks."""
    project = copied_project(tmp, "")
    project.env["KUBECONFIG"] = str(kubeconfig)
    return project


def on_stack(project: Project, stack: str, config: dict) -> Project:
    """`project`'s checkout and backend with a new stack `stack` (`pulumi stack init`) set to `config`."""
    other = Project(project.dir, stack, project.state, dict(project.env))
    other.write_config(config)
    done = other.pulumi("stack", "init", "--non-interactive", timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pulumi stack init {stack}: {done.output[-1500:]}")
    return other


def set_secret(project: Project, key: str, value: str) -> None:
    """`pulumi config set --secret KEY VALUE` on the project's stack, as an operator sets prod's
    databaseUrl."""
    done = project.pulumi("config", "set", "--secret", key, value, "--non-interactive", timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pulumi config set --secret {key}: {done.output[-1500:]}")
