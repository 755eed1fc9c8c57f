"""Trial staging and prod stacks on this machine's cluster (machine/local_cluster/cluster.sh): staging builds
on the `dockyard-buildkit` builder from air-gapped bases pushed to the loopback registry,
pushes by digest with a registry build cache, and deploys to a namespace of its own; prod
promotes its digests through a StackReference in the same file backend. The checked-in
Pulumi.staging.yaml / Pulumi.prod.yaml are the starting point; only what cannot be had here
changes (registry, bases, namespaces, the ingress host). The real tier uses it."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from components.config.catalog_file import catalog_path, load_catalog
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
# The trial's node is this 2-core machine, not a cluster of nodes: staging, its cache twin, prod and
# dev's Minikube path run on it side by side, so each service of a trial stack asks for a tenth of a
# core (`services.<name>.cpu` is the limit; the request is half) instead of the stack files' sizes,
# which schedule staging alone (1.6 of the 2 cores) and leave prod Pending ("Insufficient cpu").
TRIAL_CPU = "200m"


def _run(args: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # nosec B603 -- argv list, no shell


def registry_call(method: str, repository: str, reference: str) -> tuple[int, str]:
    """(HTTP status, Docker-Content-Digest) of a manifest on the loopback registry."""
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repository}/manifests/{reference}", method=method, headers={"Accept": MANIFEST_TYPES}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # nosec B310 -- http:// URL of the loopback registry
            return response.status, response.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError as error:
        return error.code, ""


def push_bases(repository: str) -> tuple[dict[str, str], dict[str, str]]:
    """The air-gapped bases of every build, pushed under `<registry>/<repository>/` as `make up`
    pushes them (machine/base_images/air_gapped.py): (baseImages, runtimeBaseImages) for the stack settings."""
    bases, _ = air_gapped.wanted_images(PROJECT_DIR, {})
    pushed = air_gapped.build_settings(bases, repository)
    return pushed["baseImages"], pushed["runtimeBaseImages"]


def _service_counterpart(ref: str) -> str:
    """The air-gapped image standing for an upstream datastore image (one image each)."""
    image = air_gapped.counterpart(ref, air_gapped.SERVICE_IMAGES)
    if not isinstance(image, str):
        raise TypeError(f"{ref}: SERVICE_IMAGES maps each upstream image to one image, not {image!r}")
    return image


def push_service_images(repository: str, kind: str) -> dict[str, str]:
    """The air-gapped counterparts of the upstream images a stack file runs (postgres, redis),
    pushed under `<registry>/<repository>/` and pinned by digest as the stack files pin theirs:
    service -> `repository:tag@sha256:…` (the node pulls them; no public registry is reachable)."""
    _, runs = air_gapped.wanted_images(PROJECT_DIR, checked_in_config(kind))
    enabled = {
        service: ref
        for service, ref in runs.items()
        if ((checked_in_config(kind).get("dockyard:services") or {}).get(service) or {}).get("enabled", True)
    }
    local = {service: _service_counterpart(ref) for service, ref in enabled.items()}
    pushed = air_gapped.push(local.values(), repository)
    pinned = {}
    for service, image in local.items():
        remote = pushed[image]
        path, tag = remote.split("/", 1)[1].rsplit(":", 1)
        status, digest = registry_call("HEAD", path, tag)
        if status != 200 or not digest:
            raise RuntimeError(f"{remote} was pushed but the registry does not serve it ({status})")
        pinned[service] = f"{remote}@{digest}"
    return pinned


def with_service_images(config: dict[str, Any], images: dict[str, str]) -> dict[str, Any]:
    """`config` with `services.<name>.image` set to `images` and every catalog service's CPU set
    to TRIAL_CPU (other service settings kept)."""
    services = {name: dict(value or {}) for name, value in (config.get("dockyard:services") or {}).items()}
    for service, ref in images.items():
        services.setdefault(service, {})["image"] = ref
    for spec in load_catalog(catalog_path(PROJECT_DIR)).services:
        services.setdefault(spec.name, {})["cpu"] = TRIAL_CPU
    return {**config, "dockyard:services": services}


def delete_manifest(repository: str, reference: str) -> None:
    """Remove a tag's manifest (and so the tag) we pushed; blobs stay until the registry's GC."""
    status, digest = registry_call("HEAD", repository, reference)
    if status == 200 and digest:
        registry_call("DELETE", repository, digest)


def registry_repositories(prefix: str) -> list[str]:
    """The loopback registry's repositories whose names start with `prefix`."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/_catalog?n=10000", timeout=15) as response:  # nosec B310 -- http:// URL of the loopback registry
            return [name for name in json.load(response).get("repositories") or [] if name.startswith(prefix)]
    except (urllib.error.URLError, ValueError):
        return []


def delete_repository_tags(repository: str) -> None:
    """Remove every tag of a repository we pushed."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=15) as response:  # nosec B310 -- http:// URL of the loopback registry
            tags = json.load(response).get("tags") or []
    except (urllib.error.URLError, ValueError):
        return
    for tag in tags:
        delete_manifest(repository, tag)


def checked_in_config(kind: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((PROJECT_DIR / f"Pulumi.{kind}.yaml").read_text())["config"]
    return config


def staging_config(
    stack: str, bases: tuple[dict[str, str], dict[str, str]], services: dict[str, str]
) -> dict[str, Any]:
    """Pulumi.staging.yaml with the loopback registry, the remote builder, the pushed bases and
    datastore images, a tag and a namespace of the run's own."""
    config = with_service_images(checked_in_config("staging"), services)
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


def prod_config(stack: str, source_stack: str, services: dict[str, str] | None = None,
                database_cidr: str | None = None) -> dict[str, Any]:
    """Pulumi.prod.yaml promoting from `source_stack` (a stack of this project and backend),
    with the pushed datastore images and the external database's address range when given."""
    config = with_service_images(checked_in_config("prod"), services or {})
    kubernetes = in_namespace(config, stack)
    if database_cidr:
        kubernetes["externalDatabaseCidr"] = database_cidr
    return {
        **config,
        "dockyard:promotion": {"fromStack": f"organization/dockyard/{source_stack}"},
        "dockyard:kubernetes": kubernetes,
    }


# A broken release fails `up` after this many seconds instead of the stack files' 600: the tier's
# rollouts are of two or three small pods, and the wait is the broken-release test's whole cost.
TRIAL_ROLLOUT_TIMEOUT_SECONDS = 240


def in_namespace(config: dict[str, Any], stack: str) -> dict[str, Any]:
    """The config's kubernetes settings in a namespace (and ingress host) of the stack's own."""
    kubernetes = dict(config["dockyard:kubernetes"])
    kubernetes["namespace"] = stack  # its own namespace: runs never share objects
    kubernetes["rolloutTimeoutSeconds"] = TRIAL_ROLLOUT_TIMEOUT_SECONDS
    kubernetes["ingress"] = {**kubernetes["ingress"], "host": f"{stack}.dockyard.localhost"}
    return kubernetes


def new_cluster_project(tmp: Path, kubeconfig: Path) -> Project:
    """A copy of the checkout and a file backend for this run's staging and prod stacks."""
    project = copied_project(tmp, "")
    project.env["KUBECONFIG"] = str(kubeconfig)
    return project


def on_stack(project: Project, stack: str, config: dict[str, Any]) -> Project:
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


class ExternalDatabase:
    """Prod's "managed" PostgreSQL: a container of the air-gapped postgres image on the Docker
    engine, published on the host's end of the node's link only (what pods reach the host at),
    named after the stack and removed by `remove`."""

    USER, PASSWORD, DATABASE = "todo", "trial", "todo"

    def __init__(self, stack: str, host_address: str):
        self.name = f"{stack}-external-db"
        self.host = host_address
        self.port = 0

    def start(self) -> str:
        """Start it and wait until it takes connections; returns prod's databaseUrl."""
        image = air_gapped.SERVICE_IMAGES["postgres"]
        done = _run(
            ["docker", "run", "-d", "--name", self.name, "-p", f"{self.host}::5432",
             "-e", f"POSTGRES_USER={self.USER}", "-e", f"POSTGRES_PASSWORD={self.PASSWORD}",
             "-e", f"POSTGRES_DB={self.DATABASE}", image],
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker run {self.name}: {done.stderr[-1500:]}")
        port = _run(["docker", "port", self.name, "5432/tcp"], timeout=30).stdout.split()[0]
        self.port = int(port.rsplit(":", 1)[1])
        for _ in range(120):
            ready = _run(["docker", "exec", self.name, "pg_isready", "-U", self.USER, "-d", self.DATABASE], timeout=30)
            if ready.returncode == 0:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{self.name} did not take connections within 60 s")
        return f"postgresql+psycopg://{self.USER}:{self.PASSWORD}@{self.host}:{self.port}/{self.DATABASE}"

    def query(self, sql: str) -> str:
        done = _run(["docker", "exec", self.name, "psql", "-U", self.USER, "-d", self.DATABASE, "-tAc", sql], timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql in {self.name}: {done.stderr[-1500:]}")
        return done.stdout.strip()

    def remove(self) -> None:
        _run(["docker", "rm", "-f", "-v", self.name], timeout=120)
