"""dockyard's air-gapped images as a stack's settings, on a machine that cannot pull public images.

The catalog names public images (`python:3.13-slim-bookworm`, `node:22-alpine`, `postgres:…`,
`redis:…`). Where no registry serves them, bases.py builds dockyard's own from Debian packages;
the builds then need them in a registry the `dockyard-buildkit` builder reaches (a remote builder
cannot see the engine's images): the loopback registry (registry.sh, buildkit.sh). This module
knows which air-gapped image stands for which public one, pushes the bases, and returns the
settings that use them. `make up` (scripts/dockyard.py) and the real tier's trial stacks use it,
so both run the same settings.

`make up` needs no edit of the stack file for it: the stack's own settings win (an image its file
already overrides is checked as given); when every image is reachable nothing happens; otherwise
the driver passes `pulumi up/preview --config-file .air-gapped/Pulumi.<stack>.yaml`, the stack file
with the air-gapped settings merged in (builder, loopback registry, bases, datastore images, this
machine's CA for pip and npm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from components.config.catalog_file import catalog_path, load_catalog

REGISTRY = f"127.0.0.1:{os.environ.get('REGISTRY_PORT', '5000')}"
BUILDER = "dockyard-buildkit"  # machine/provision/buildkit.sh: a remote builder that reaches the loopback registry
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # this machine's CA: pip and npm in builds need it
# A public image's repository -> the air-gapped image that keeps its contract (bases.py):
# (build stage base, runtime stage base) for build bases, the image itself for services.
BUILD_BASES = {
    "python": ("dockyard/base-python:3.11-bookworm", "dockyard/runtime-python:3.11-bookworm"),
    "node": ("dockyard/base-node:22-bookworm", "dockyard/runtime-node:22-bookworm"),
}
SERVICE_IMAGES = {
    "postgres": "dockyard/postgres:17-trixie",
    "redis": "dockyard/redis:7-bookworm",
    "prom/prometheus": "dockyard/prometheus:2-bookworm",
}


class AirGapError(Exception):
    """A public image has no air-gapped counterpart, or the counterparts cannot be made."""


def repository_of(ref: str) -> str:
    """`python:3.13-slim` -> `python`; `docker.io/library/node:22` -> `node`; digests dropped."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        name = name.removeprefix(prefix)
    return name


def counterpart(ref: str, kinds: dict) -> str | tuple[str, str]:
    try:
        return kinds[repository_of(ref)]
    except KeyError:
        allowed = ", ".join(sorted(kinds))
        raise AirGapError(f"no air-gapped image stands for '{ref}' (there are images for: {allowed})") from None


def _docker(*args: str, timeout: float = 900) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)  # nosec B603 B607 -- argv list, no shell; docker from PATH as the user runs it
    if done.returncode != 0:
        raise AirGapError(f"docker {' '.join(args)}: {done.stderr.strip()[-1500:]}")
    return done.stdout


def push(local_refs: Iterable[str], repository: str) -> dict[str, str]:
    """Each engine image under `<registry>/<repository>/`: local ref -> pushed ref."""
    pushed = {}
    for local in sorted(set(local_refs)):
        remote = f"{REGISTRY}/{repository}/{local.split('/', 1)[1]}"
        _docker("tag", local, remote)
        _docker("push", "-q", remote)
        _docker("rmi", remote)  # the engine keeps its own name only
        pushed[local] = remote
    return pushed


def build_settings(base_images: dict[str, str], repository: str) -> dict[str, dict[str, str]]:
    """`images.baseImages` and `images.runtimeBaseImages` for built services (service -> the
    public base it declares), on the air-gapped bases pushed under `repository`."""
    bases = {service: counterpart(ref, BUILD_BASES) for service, ref in base_images.items()}
    pushed = push((image for pair in bases.values() for image in pair), repository)
    return {
        "baseImages": {service: pushed[build] for service, (build, _) in bases.items()},
        "runtimeBaseImages": {service: pushed[runtime] for service, (_, runtime) in bases.items()},
    }


def service_settings(images: dict[str, str]) -> dict[str, dict[str, str]]:
    """`services.<name>.image` for services that run a public image (the engine runs them as they are)."""
    return {service: {"image": counterpart(ref, SERVICE_IMAGES)} for service, ref in images.items()}


OVERLAY_DIR = ".air-gapped"  # git-ignored
README_SECTION = 'README "Builds without a registry (air-gapped)"'


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def wanted_images(project_dir: Path, config: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(service -> the base its build pulls, service -> the image it runs), for every catalog
    service, after the stack file's own overrides (images.baseImages, services.<name>.image)."""
    catalog = load_catalog(catalog_path(project_dir))
    images = config.get("dockyard:images") or {}
    services = config.get("dockyard:services") or {}
    bases = {
        spec.name: (images.get("baseImages") or {}).get(spec.name, spec.build.base_image)
        for spec in catalog.services
        if spec.build
    }
    runs = {
        spec.name: (services.get(spec.name) or {}).get("image", spec.image)
        for spec in catalog.services
        if spec.image
    }
    return bases, runs


def pullable(ref: str) -> bool:
    """Whether a registry serves `ref` (a manifest answers). Offline this fails at once."""
    done = subprocess.run(  # nosec B603 B607 -- argv list, no shell; docker from PATH
        ["docker", "buildx", "imagetools", "inspect", "--raw", ref], capture_output=True, text=True, timeout=60
    )
    return done.returncode == 0


def in_engine(ref: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, text=True, timeout=60)  # nosec B603 B607 -- argv list, no shell; docker from PATH
    return done.returncode == 0


def unreachable(bases: dict[str, str], runs: dict[str, str]) -> list[str]:
    """The images nothing can get: a build base must come from a registry (the builder pulls it),
    an image the engine runs may be in the engine already."""
    refs = sorted({*bases.values(), *(ref for ref in runs.values() if not in_engine(ref))})
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(zip(refs, pool.map(pullable, refs), strict=True))
    return [ref for ref, ok in answers.items() if not ok]


def can_build_here() -> str | None:
    """Why the air-gapped images cannot be built on this machine, or None."""
    if os.geteuid() != 0:
        return "building them needs root (debootstrap)"
    if shutil.which("debootstrap") is None:
        return "building them needs debootstrap (apt-get install debootstrap)"
    return None


def run_script(project_dir: Path, script: str) -> None:
    done = subprocess.run(["bash", str(project_dir / script)], stdout=subprocess.DEVNULL)  # nosec B603 B607 -- argv list, no shell; bash runs this checkout's own script
    if done.returncode != 0:
        raise AirGapError(f"{script} failed (its messages are above)")


def settings(project_dir: Path, stack: str, bases: dict[str, str], runs: dict[str, str]) -> dict:
    """The air-gapped settings for this stack: every build's bases pushed to the loopback
    registry for the `dockyard-buildkit` builder (which then builds them all), and the services
    in `runs` on the engine's own air-gapped images."""
    for script in ("machine/provision/registry.sh", "machine/provision/buildkit.sh", "machine/base_images/bases.sh"):
        run_script(project_dir, script)
    images = {
        "builder": BUILDER,
        "registry": f"{REGISTRY}/dockyard-{stack}",
        **build_settings(bases, f"dockyard-{stack}/bases"),
    }
    if Path(CA_BUNDLE).is_file():
        images["caBundle"] = CA_BUNDLE
    return {"dockyard:images": images, "dockyard:services": service_settings(runs)}


def merged(config: dict, overrides: dict) -> dict:
    """The stack's config with the overrides merged in, one level down (images.*, services.<name>.*)."""
    result = dict(config)
    for key, value in overrides.items():
        current = dict(result.get(key) or {})
        for inner, inner_value in value.items():
            if isinstance(inner_value, dict) and isinstance(current.get(inner), dict):
                current[inner] = {**current[inner], **inner_value}
            else:
                current[inner] = inner_value
        result[key] = current
    return result


def config_file(project_dir: Path, stack: str, say: Callable[[str], None]) -> Path | None:
    """The config file `pulumi up/preview` take for this stack here, or None: the stack's own
    (always for a stack that is not of kind dev: only dev runs on this machine's engine)."""
    path = stack_file(project_dir, stack)
    document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    if (document.get("config") or {}).get("dockyard:kind") != "dev":
        return None
    bases, runs = wanted_images(project_dir, document.get("config") or {})
    missing = unreachable(bases, runs)
    if not missing:
        return None
    runs = {service: ref for service, ref in runs.items() if ref in missing}  # the others run as they are
    why_not = can_build_here()
    if why_not:
        raise AirGapError(
            f"no registry serves {', '.join(missing)}, and dockyard's air-gapped images cannot stand in: "
            f"{why_not}. Point the stack at images you can reach ({README_SECTION})."
        )
    say(f"no registry serves {', '.join(missing)}: building dockyard's air-gapped images from Debian "
        f"packages and using them through the loopback registry ({README_SECTION})")  # fmt: skip
    overlay = {**document, "config": merged(document.get("config") or {}, settings(project_dir, stack, bases, runs))}
    target = project_dir / OVERLAY_DIR / path.name
    target.parent.mkdir(exist_ok=True)
    target.write_text(
        f"# Written by scripts/air_gap.py for this machine: {path.name} with dockyard's air-gapped images.\n"
        + yaml.safe_dump(overlay, sort_keys=False)
    )
    say(f"settings: {target.relative_to(project_dir)} (plain pulumi: add --config-file {target.relative_to(project_dir)})")
    return target
