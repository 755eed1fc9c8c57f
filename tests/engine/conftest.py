"""Engine tier fixtures: a running Docker engine (machine/provision/dockerd.sh), dockyard's air-gapped base
images (machine/base_images/bases.sh), the reference app's built images from their Dockerfiles, and a finalizer
that removes every container, volume and network the tier labelled.

The tier runs the reference app (testing/reference_app.py) on air-gapped images: which base each
service gets is pinned here; how a service is built and run (context, target, port, user,
writable paths, memory) comes from the catalog, as the program takes it.

Without a usable Docker engine the tier skips with the reason; under CI=true it fails."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import pytest

from components.config.catalog import OPT_OUT_READ_ONLY_ROOT, ServiceSpec
from components.core.quantities import memory_mb
from testing import dockerlib as dl
from testing import reference_app
from testing.harness import CATALOG
from tests.tiers import require

MACHINE_DIR = dl.PROJECT_DIR / "machine"
BASE_PYTHON = "dockyard/base-python:3.11-bookworm"
BASE_NODE = "dockyard/base-node:22-bookworm"
RUNTIME_PYTHON = "dockyard/runtime-python:3.11-bookworm"  # distroless: the runtime stage's base
RUNTIME_NODE = "dockyard/runtime-node:22-bookworm"
POSTGRES = "dockyard/postgres:17-trixie"
REDIS = "dockyard/redis:7-bookworm"
APP_VERSION = "0.0.0-enginetest"
SPECS = CATALOG.by_name()

# The reference app on dockyard's air-gapped images: a built service's BASE_IMAGE
# (images.baseImages) or an upstream service's image (services.<name>.image) ...
AIR_GAPPED_BASES = {
    "backend": BASE_PYTHON, "frontend": BASE_NODE, "postgres": POSTGRES, "redis": REDIS,
}  # fmt: skip
# ... and a built service's RUNTIME_BASE_IMAGE (images.runtimeBaseImages): distroless.
RUNTIME_BASES = {"backend": RUNTIME_PYTHON, "frontend": RUNTIME_NODE}


def hardened_args(spec: ServiceSpec) -> list[str]:
    """`docker run` flags that run a catalog service as the program does: its user, read-only
    root (unless it opts out) with tmpfs on its writable paths, no capabilities, its memory limit."""
    args = dl.hardened_args(spec.user, tmpfs=tuple(spec.writable_paths), memory=f"{memory_mb(spec.resources.memory)}m")
    if OPT_OUT_READ_ONLY_ROOT in spec.opt_outs:
        args.remove("--read-only")
    return args


def _script(path: str, timeout: float) -> subprocess.CompletedProcess:
    """machine/PATH (e.g. provision/dockerd.sh), run."""
    return subprocess.run(["bash", str(MACHINE_DIR / path)], capture_output=True, text=True, timeout=timeout)


def _engine_problem() -> str | None:
    """Why no Docker engine can run here, or None when machine/provision/dockerd.sh brought one up."""
    if os.geteuid() != 0 and not os.path.exists(dl.DOCKER):
        return f"{dl.DOCKER} is missing and installing docker.io needs root"
    try:
        proc = _script("provision/dockerd.sh", timeout=600)
    except subprocess.TimeoutExpired:
        return "machine/provision/dockerd.sh did not finish within 600 s"
    if proc.returncode != 0:
        return f"machine/provision/dockerd.sh failed: {(proc.stdout + proc.stderr)[-1500:]}"
    return None


@pytest.fixture(scope="session")
def docker_engine():
    problem = _engine_problem()
    require(problem is None, f"no Docker engine: {problem}")
    yield
    dl.cleanup_session()


@pytest.fixture(scope="session")
def base_images(docker_engine):
    """Build (or find current) the four air-gapped images; fails, never skips, when they don't."""
    start = time.monotonic()
    proc = _script("base_images/bases.sh", timeout=1500)
    if proc.returncode != 0:
        pytest.fail(f"machine/base_images/bases.sh failed:\n{(proc.stdout + proc.stderr)[-4000:]}", pytrace=False)
    return {"seconds": time.monotonic() - start, "report": proc.stdout}


@dataclass(frozen=True)
class AppImage:
    name: str  # a built service of the reference app
    ref: str
    base: str  # BASE_IMAGE: builder and dev stages
    runtime_base: str  # RUNTIME_BASE_IMAGE: the runtime stage (distroless)
    port: int
    budget_mb: int  # the whole image, uncompressed, as `docker image inspect` reports it
    build_seconds: float
    spec: ServiceSpec  # the catalog's service: how the program builds and runs the image


# The seed's budgets, on dockyard's distroless runtime bases (issue 22: Node 22's binary stripped).
BUDGET_MB = {"backend": 120, "frontend": 150}
APPS = {
    name: dict(base=AIR_GAPPED_BASES[name], runtime_base=RUNTIME_BASES[name], port=SPECS[name].port,
               budget_mb=BUDGET_MB[name])
    for name in reference_app.BUILT
}  # fmt: skip


def _build_app(name: str) -> AppImage:
    spec = SPECS[name]
    context = dl.PROJECT_DIR / spec.build.context
    if not (context / "Dockerfile").is_file():
        pytest.fail(f"{spec.build.context}/Dockerfile is missing", pytrace=False)
    app = APPS[name]
    ref = f"dockyard-test/{name}:{spec.build.target}"
    start = time.monotonic()
    try:
        dl.build_image(
            context,
            ref,
            target=spec.build.target,
            build_args={
                "BASE_IMAGE": app["base"],
                "RUNTIME_BASE_IMAGE": app["runtime_base"],
                "APP_VERSION": APP_VERSION,
                "BUILDKIT_INLINE_CACHE": "1",
            },
        )
    except dl.DockerError as e:
        pytest.fail(str(e), pytrace=False)
    return AppImage(
        name, ref, app["base"], app["runtime_base"], app["port"], app["budget_mb"], time.monotonic() - start, spec
    )


_built: dict[str, AppImage] = {}


@pytest.fixture(scope="session", params=sorted(APPS))
def app_image(request, base_images) -> AppImage:
    """Each app's `runtime` stage built on its air-gapped base (built once per session)."""
    if request.param not in _built:
        _built[request.param] = _build_app(request.param)
    return _built[request.param]


@pytest.fixture(scope="session")
def app_images(base_images) -> dict[str, AppImage]:
    """Every built service's image (built once per session)."""
    for name in sorted(APPS):
        if name not in _built:
            _built[name] = _build_app(name)
    return {name: _built[name] for name in APPS}


@pytest.fixture(scope="session")
def network(docker_engine) -> str:
    """A throwaway user-defined network; containers reach each other by alias on it."""
    name = dl.unique("net")
    dl.docker("network", "create", *dl.label_args(), name)
    return name
