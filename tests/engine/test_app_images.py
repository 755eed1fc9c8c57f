"""The apps' `runtime` images, built on the air-gapped bases: shape, contents, size, health.

Built with the same arguments the program uses (BASE_IMAGE, APP_VERSION, the CA bundle as
BuildKit secret `ca_bundle`); run with the hardening the runtime contract promises and the
catalog gives each service (user, writable paths, memory, env, command). The HTTP checks
drive the reference app's API and web app (testing/reference_app.py)."""

from __future__ import annotations

import json
import posixpath
import time
import urllib.request
from dataclasses import dataclass

import pytest

from testing import dockerlib as dl
from testing.harness import resolved_stack
from testing.reference_app import API, WEB
from tests.engine.conftest import AIR_GAPPED_BASES, APP_VERSION, APPS, SPECS, AppImage, hardened_args
from tests.engine.service_env import service_env

MB = 1_000_000  # docker reports sizes in decimal megabytes


def app_layer_files(image: AppImage) -> list[dl.LayerFile]:
    """Entries of the layers the app Dockerfile added on top of its runtime base."""
    base_layers = dl.image_layers(image.runtime_base)
    layers = dl.image_layers(image.ref)
    assert layers[: len(base_layers)] == base_layers, f"{image.ref} is not built on {image.runtime_base}"
    return [f for f in dl.layer_files(image.ref) if f.layer >= len(base_layers)]


# --- configuration ---------------------------------------------------------------------------


def test_runtime_runs_as_its_catalog_user(app_image):
    user = app_image.spec.user
    assert dl.image_config(app_image.ref)["User"] in (user, user.partition(":")[0])


def test_runtime_has_exec_form_healthcheck_without_curl(app_image):
    test = (dl.image_config(app_image.ref).get("Healthcheck") or {}).get("Test") or []
    assert test and test[0] == "CMD", f"health check must be exec form, got {test}"
    assert not {"curl", "wget"} & {posixpath.basename(w) for w in test[1:]}, test


def test_runtime_exec_form_cmd_exposed_port_and_version(app_image):
    config = dl.image_config(app_image.ref)
    assert isinstance(config["Cmd"], list) and config["Cmd"][0] not in ("/bin/sh", "sh"), config["Cmd"]
    assert f"{app_image.port}/tcp" in (config.get("ExposedPorts") or {})
    assert f"APP_VERSION={APP_VERSION}" in config["Env"]


def test_no_secret_values_in_env_labels_or_history(app_image):
    config = dl.image_config(app_image.ref)
    texts = list(config.get("Env") or [])
    texts += [f"{k}={v}" for k, v in (config.get("Labels") or {}).items()]
    texts += dl.history_commands(app_image.ref)
    assert dl.secret_looking(texts) == []


def test_no_dotenv_git_tests_or_ca_bundle_in_app_layers(app_image):
    workdir = (dl.image_config(app_image.ref).get("WorkingDir") or "/app").strip("/")
    bad = []
    for f in app_layer_files(app_image):
        parts = f.path.split("/")
        name = parts[-1]
        if name == ".env" or (name.startswith(".env.") and not name.endswith(".example")):
            bad.append(f.path)
        elif ".git" in parts:
            bad.append(f.path)
        elif f.path.startswith(f"{workdir}/tests/") or f.path == f"{workdir}/tests":
            bad.append(f.path)
        elif name == "ca_bundle" or (f.path.startswith("run/secrets/") and f.size > 0):
            bad.append(f.path)
        elif name in ("ca-certificates.crt", "uv-tool.lock", "requirements.lock", "package-lock.json") and (
            not f.path.startswith("etc/ssl/") and f.path.startswith(("app/", "opt/", "root/", "tmp/"))
        ):
            # Build inputs and the build-time CA bundle have no business in a runtime image.
            bad.append(f.path)
    assert bad == [], f"{app_image.ref} carries: {bad[:20]}"


def test_size_within_budget(app_image):
    size = dl.image_size(app_image.ref)
    added = size - dl.image_size(app_image.runtime_base)
    print(f"{app_image.name}: {size / MB:.1f} MB, {added / MB:.1f} MB above {app_image.runtime_base}")
    assert size <= app_image.budget_mb * MB, f"{app_image.ref} is {size / MB:.1f} MB > {app_image.budget_mb} MB"


# What the runtime images must not carry: nothing runs these (measured cuts in docs/benchmarks.md).
NOT_IN_RUNTIME = {
    "backend": ("opt/venv/lib/python3.11/site-packages/sqlalchemy/testing/", "opt/venv/bin/pip", "opt/uv/"),
    "frontend": ("usr/local/lib/node_modules/npm/", "usr/local/bin/npm", "usr/local/bin/corepack",
                 "app/node_modules/typescript/", "app/node_modules/next/dist/compiled/amphtml-validator/",
                 "app/node_modules/react-dom/cjs/react-dom-server.node.development.js",
                 "app/node_modules/next/dist/compiled/babel-packages/", "app/node_modules/next/dist/compiled/@next/font/",
                 "app/node_modules/next/dist/compiled/next-devtools/", "app/node_modules/caniuse-lite/"),
}  # fmt: skip


def test_runtime_has_no_shell_package_manager_or_build_leftovers(app_image):
    files = dl.layer_files(app_image.ref)
    paths = [f.path for f in files]
    shells = dl.programs_in_path(files)
    assert shells == [], f"{app_image.ref} carries {shells}"
    leftovers = [p for p in paths if p.startswith(NOT_IN_RUNTIME[app_image.name]) or p.endswith((".map", ".pyi"))]
    assert leftovers == [], f"{app_image.ref} carries {leftovers[:20]}"


# --- running, hardened -----------------------------------------------------------------------


def http_get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def http_json(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


@dataclass
class AppStack:
    containers: dict[str, str]  # service -> container
    started: dict[str, float]  # service -> monotonic time it was started


@pytest.fixture(scope="module")
def stack(network, app_images) -> AppStack:
    """Every service of the dev stack, started in the program's order with its catalog env and
    command: upstream ones on dockyard's images, the others on the images built here. Each starts
    once what it depends on is healthy (or, one-shot, has exited 0); public ones are published."""
    dev = resolved_stack("dev")
    password = "engine-test-pw"
    generated = {name: password for name, secret in dev.secrets.items() if secret.generate}
    result = AppStack({}, {})
    for name, service in dev.services.items():
        spec = service.spec
        for dependency in service.depends_on:
            container = result.containers[dependency]
            if dev.services[dependency].spec.one_shot:
                assert dl.wait_exit(container, 120) == 0, f"{dependency} failed:\n{dl.logs(container)}"
            else:
                status = dl.wait_health(container, 120)
                assert status == "healthy", f"{container}: {status}\n{dl.logs(container)}"
        image = app_images[service.built_from].ref if service.built_from else AIR_GAPPED_BASES[name]
        env = [arg for key, value in service_env(service, dev, generated).items() for arg in ("-e", f"{key}={value}")]
        publish = ["-p", f"127.0.0.1::{spec.port}"] if spec.public and spec.port else []
        result.started[name] = time.monotonic()
        result.containers[name] = dl.run_container(
            image,
            *(spec.command or ()),
            name=dl.unique(name),
            run_args=[*hardened_args(spec), "--network", network, "--network-alias", name, *publish, *env],
        )
    for name, service in dev.services.items():  # the apps' own health is what the tests below check
        container = result.containers[name]
        if service.spec.one_shot:
            assert dl.wait_exit(container, 120) == 0, f"{name} failed:\n{dl.logs(container)}"
        elif name not in APPS:
            status = dl.wait_health(container, 120)
            assert status == "healthy", f"{container}: {status}\n{dl.logs(container)}"
    return result


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_becomes_healthy_hardened(stack, name):
    container = stack.containers[name]
    status = dl.wait_health(container, 120)
    took = time.monotonic() - stack.started[name]
    print(f"{name}: {status} {took:.1f}s after start")
    assert status == "healthy", f"{name}: {status}\n{dl.logs(container)}"
    top = dl.docker("top", container, "-o", "pid,uid").splitlines()[1:]  # no `id` in a distroless image
    assert {line.split()[1] for line in top} == {SPECS[name].user.partition(":")[0]}, top


@pytest.mark.parametrize("name", sorted(APPS))
def test_no_shell_to_exec_into(stack, name):
    container = stack.containers[name]
    assert dl.wait_health(container, 120) == "healthy", dl.logs(container)
    for shell in ("sh", "/bin/sh", "bash"):
        proc = dl.docker_proc("exec", container, shell, "-c", "true")
        out = (proc.stderr + proc.stdout).lower()
        assert proc.returncode != 0 and ("not found" in out or "no such file" in out), (shell, proc)


def test_backend_is_ready_against_real_postgres_and_redis(stack):
    api = stack.containers[API]
    assert dl.wait_health(api, 120) == "healthy", dl.logs(api)
    port = dl.host_port(api, SPECS[API].port)
    status, body = http_get(port, SPECS[API].health.readiness_path)
    assert status == 200, body
    status, created = http_json(port, "POST", "/api/todos", {"title": "from the engine tier"})
    assert status in (200, 201), created
    status, listed = http_json(port, "GET", "/api/todos")
    assert status == 200 and any(t.get("title") == "from the engine tier" for t in _items(listed)), listed


def _items(listed: object) -> list[dict]:
    if isinstance(listed, dict):
        for key in ("items", "todos", "data"):
            if isinstance(listed.get(key), list):
                return listed[key]
    return listed if isinstance(listed, list) else []


def test_frontend_serves_health_and_reaches_backend(stack):
    web = stack.containers[WEB]
    assert dl.wait_health(web, 120) == "healthy", dl.logs(web)
    port = dl.host_port(web, SPECS[WEB].port)
    status, body = http_get(port, SPECS[WEB].health.readiness_path)
    assert status == 200, body
    status, page = http_get(port, "/", timeout=15)
    assert status == 200 and b"<html" in page.lower()
    # Through the frontend's server-side proxy (BACKEND_URL on the network) to the backend.
    status, created = http_json(port, "POST", "/api/todos", {"title": "via the frontend"})
    assert status in (200, 201), created
    status, listed = http_json(dl.host_port(stack.containers[API], SPECS[API].port), "GET", "/api/todos")
    assert any(t.get("title") == "via the frontend" for t in _items(listed)), listed
