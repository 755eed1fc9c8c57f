"""Engine tier fixtures: a running Docker engine (engine/dockerd.sh), dockyard's air-gapped base
images (engine/bases.sh), the two app images built from their Dockerfiles, and a finalizer that
removes every container, volume and network the tier labelled.

Without a usable Docker engine the tier skips with the reason; under CI=true it fails."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import pytest

from tests.engine import dockerlib as dl
from tests.tiers import require

ENGINE_DIR = dl.PROJECT_DIR / "engine"
BASE_PYTHON = "dockyard/base-python:3.11-bookworm"
BASE_NODE = "dockyard/base-node:22-bookworm"
RUNTIME_PYTHON = "dockyard/runtime-python:3.11-bookworm"  # distroless: the runtime stage's base
RUNTIME_NODE = "dockyard/runtime-node:22-bookworm"
POSTGRES = "dockyard/postgres:15-bookworm"
REDIS = "dockyard/redis:7-bookworm"
APP_VERSION = "0.0.0-enginetest"


def _script(name: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ENGINE_DIR / name)], capture_output=True, text=True, timeout=timeout)


def _engine_problem() -> str | None:
    """Why no Docker engine can run here, or None when engine/dockerd.sh brought one up."""
    if os.geteuid() != 0 and not os.path.exists(dl.DOCKER):
        return f"{dl.DOCKER} is missing and installing docker.io needs root"
    try:
        proc = _script("dockerd.sh", timeout=600)
    except subprocess.TimeoutExpired:
        return "engine/dockerd.sh did not finish within 600 s"
    if proc.returncode != 0:
        return f"engine/dockerd.sh failed: {(proc.stdout + proc.stderr)[-1500:]}"
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
    proc = _script("bases.sh", timeout=1500)
    if proc.returncode != 0:
        pytest.fail(f"engine/bases.sh failed:\n{(proc.stdout + proc.stderr)[-4000:]}", pytrace=False)
    return {"seconds": time.monotonic() - start, "report": proc.stdout}


@dataclass(frozen=True)
class AppImage:
    name: str  # backend | frontend
    ref: str
    base: str  # BASE_IMAGE: builder and dev stages
    runtime_base: str  # RUNTIME_BASE_IMAGE: the runtime stage (distroless)
    port: int
    budget_mb: int  # the whole image, uncompressed, as `docker image inspect` reports it
    build_seconds: float


# Budgets of issue 14 on dockyard's distroless runtime bases (Node 22's binary is 125 MB).
APPS = {
    "backend": dict(base=BASE_PYTHON, runtime_base=RUNTIME_PYTHON, port=8000, budget_mb=120),
    "frontend": dict(base=BASE_NODE, runtime_base=RUNTIME_NODE, port=3000, budget_mb=165),
}


def _build_app(name: str) -> AppImage:
    context = dl.PROJECT_DIR / "apps" / name
    if not (context / "Dockerfile").is_file():
        pytest.fail(f"apps/{name}/Dockerfile is missing", pytrace=False)
    spec = APPS[name]
    ref = f"dockyard-test/{name}:runtime"
    start = time.monotonic()
    try:
        dl.build_image(
            context,
            ref,
            target="runtime",
            build_args={
                "BASE_IMAGE": spec["base"],
                "RUNTIME_BASE_IMAGE": spec["runtime_base"],
                "APP_VERSION": APP_VERSION,
                "BUILDKIT_INLINE_CACHE": "1",
            },
        )
    except dl.DockerError as e:
        pytest.fail(str(e), pytrace=False)
    return AppImage(
        name, ref, spec["base"], spec["runtime_base"], spec["port"], spec["budget_mb"], time.monotonic() - start
    )


_built: dict[str, AppImage] = {}


@pytest.fixture(scope="session", params=sorted(APPS))
def app_image(request, base_images) -> AppImage:
    """Each app's `runtime` stage built on its air-gapped base (built once per session)."""
    if request.param not in _built:
        _built[request.param] = _build_app(request.param)
    return _built[request.param]


@pytest.fixture(scope="session")
def backend_image(base_images) -> AppImage:
    if "backend" not in _built:
        _built["backend"] = _build_app("backend")
    return _built["backend"]


@pytest.fixture(scope="session")
def frontend_image(base_images) -> AppImage:
    if "frontend" not in _built:
        _built["frontend"] = _build_app("frontend")
    return _built["frontend"]


@pytest.fixture(scope="session")
def network(docker_engine) -> str:
    """A throwaway user-defined network; containers reach each other by alias on it."""
    name = dl.unique("net")
    dl.docker("network", "create", *dl.label_args(), name)
    return name
