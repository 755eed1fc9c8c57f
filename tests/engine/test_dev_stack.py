"""The dev stack the program defines, brought up on a real Docker engine.

The program runs under Pulumi's mocks with `RealDocker` standing in for the
providers: every network, volume, image and container it registers is created on
the engine from exactly the inputs the program passed. Settings select the
air-gapped images (the program itself does not change). Tests talk to the stack
only through the ports it publishes on 127.0.0.1, in the order written here.

What every container must be (running or done, user, limits, ports) is derived from the
catalog resolved for this stack; the HTTP and SQL checks drive the reference app's API,
web app, database and cache (tests/reference_app.py).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from components.catalog import OPT_OUT_READ_ONLY_ROOT
from components.durations import duration_nanos
from components.model import ResolvedStack
from components.preflight import DockerEngine, docker_host
from components.quantities import memory_mb
from tests.engine import dockerlib as dl
from tests.engine.conftest import AIR_GAPPED_BASES, APP_VERSION, RUNTIME_BASES
from tests.engine.real_docker import (
    RealDocker,
    air_gapped_dev_config,
    container_state,
    destroy,
    engine_api,
    stack_filter,
    start_container,
    stop_container,
    wait_healthy,
)
from tests.harness import ProgramRun, resolved_stack, run_program
from tests.reference_app import API, CACHE, DATABASE, WEB

STACK = "enginetest"
UP_BOUND_SECONDS = 900  # cold builds included; the benchmark reports the real figure
PREFIX = f"dockyard-{STACK}"


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except json.JSONDecodeError:
            return error.code, raw.decode(errors="replace")


def psql(sql: str) -> str:
    return dl.docker("exec", f"{PREFIX}-{DATABASE}", "psql", "-U", "todo", "-d", "todo", "-tAc", sql).strip()


@dataclass
class DevStack:
    run: ProgramRun
    docker: RealDocker
    resolved: ResolvedStack  # what the program runs: the catalog under this stack's settings
    frontend: str
    backend: str
    up_seconds: float


@pytest.fixture(scope="module")
def stack(base_images) -> DevStack:
    docker = RealDocker()
    config = air_gapped_dev_config(tag=APP_VERSION, bases=AIR_GAPPED_BASES, runtime_bases=RUNTIME_BASES)
    resolved = resolved_stack(STACK, config, config_stack="dev")
    start = time.monotonic()
    try:
        run = run_program(STACK, config, config_stack="dev", new_resource_hook=docker, engine=DockerEngine(docker_host(None)))
    except Exception:
        destroy(docker, STACK)
        raise
    up_seconds = time.monotonic() - start
    yield DevStack(run, docker, resolved, run.outputs["urls"][WEB], run.outputs["urls"][API], up_seconds)
    destroy(docker, STACK)


def test_stack_comes_up_healthy_within_bound(stack):
    assert stack.up_seconds < UP_BOUND_SECONDS
    assert stack.resolved.services, "the stack runs no service"
    for name, service in stack.resolved.services.items():
        state = container_state(f"{PREFIX}-{name}")
        if service.spec.one_shot:
            assert state["Status"] == "exited" and state["ExitCode"] == 0, (name, state)
        else:
            assert state["Health"]["Status"] == "healthy", name
    published = {name for name, service in stack.resolved.services.items() if service.spec.public and service.published_port}
    assert set(stack.run.outputs["urls"]) == published
    for name, url in stack.run.outputs["urls"].items():
        assert url == f"http://127.0.0.1:{stack.resolved.services[name].published_port}", (name, url)


def test_containers_run_as_the_program_asked(stack):
    for name, service in stack.resolved.services.items():
        spec = service.spec
        container = engine_api("GET", f"/containers/{PREFIX}-{name}/json")
        host = container["HostConfig"]
        assert container["Config"]["User"] == spec.user, name
        assert host["ReadonlyRootfs"] is (OPT_OUT_READ_ONLY_ROOT not in spec.opt_outs), name
        assert host["CapDrop"] == ["ALL"], name
        assert "no-new-privileges:true" in host["SecurityOpt"], name
        assert host["Memory"] == memory_mb(spec.resources.memory) * 2**20, name
        assert set(host["Tmpfs"]) == set(spec.writable_paths), name
        if spec.health is not None:
            health = container["Config"]["Healthcheck"]
            assert health["Test"] == ["CMD", *spec.health.command], name
            assert health["StartInterval"] == duration_nanos(spec.health.start_interval) > 0, (
                f"{name}: the engine polls faster while starting"
            )
        bindings = host["PortBindings"] or {}
        if service.published_port:
            assert bindings[f"{spec.port}/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(service.published_port)}], name
        else:
            assert bindings == {}, f"{name} is not published"
    # The API's image has python: ask the process itself which user it runs as.
    uid = dl.docker("exec", f"{PREFIX}-{API}", "python", "-c", "import os; print(os.getuid())").strip()
    assert uid == stack.resolved.services[API].spec.user.partition(":")[0]


def test_todo_created_through_frontend_reaches_postgres(stack):
    status, todo = http("POST", f"{stack.frontend}/api/todos", {"title": "ship dockyard"})
    assert status == 201, todo
    assert psql(f"select title from todos where id = {int(todo['id'])}") == "ship dockyard"
    status, todos = http("GET", f"{stack.frontend}/api/todos")
    assert status == 200 and "ship dockyard" in [t["title"] for t in todos]


def test_replacing_backend_and_postgres_loses_no_todo(stack):
    status, todo = http("POST", f"{stack.backend}/api/todos", {"title": "survives replacement"})
    assert status == 201, todo
    for service in (DATABASE, API):
        stack.docker.replace(f"{PREFIX}-{service}")
    status, todos = http("GET", f"{stack.frontend}/api/todos")
    assert status == 200, todos
    assert {"ship dockyard", "survives replacement"} <= {t["title"] for t in todos}


def test_sigterm_lets_an_in_flight_request_finish(stack):
    backend = f"{PREFIX}-{API}"
    # Hold a lock so the next write waits inside the backend: a slow request, for real.
    locker = subprocess.Popen(
        [
            dl.DOCKER,
            "exec",
            f"{PREFIX}-{DATABASE}",
            "psql",
            "-U",
            "todo",
            "-d",
            "todo",
            "-c",
            "BEGIN; LOCK TABLE todos IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)
    result: dict = {}
    writer = threading.Thread(
        target=lambda: result.update(
            zip(("status", "body"), http("POST", f"{stack.backend}/api/todos", {"title": "in flight"}, timeout=60), strict=True)
        )
    )
    writer.start()
    time.sleep(1.5)
    assert writer.is_alive(), "the request should still be waiting on the lock"
    dl.docker("kill", "--signal", "TERM", backend)
    writer.join(timeout=60)
    locker.wait(timeout=60)
    assert result.get("status") == 201, result
    assert psql("select count(*) from todos where title = 'in flight'") == "1"
    deadline = time.monotonic() + 60
    while container_state(backend)["Running"] and time.monotonic() < deadline:
        time.sleep(0.5)
    state = container_state(backend)
    assert state["ExitCode"] == 0 or state["Running"], state  # exited cleanly (or already restarted)
    if not state["Running"]:
        start_container(backend)
    wait_healthy(backend, 120)


def test_readiness_follows_redis(stack):
    redis = f"{PREFIX}-{CACHE}"
    ready = stack.resolved.services[API].spec.health.readiness_path
    stop_container(redis, seconds=10)
    try:
        status, body = http("GET", f"{stack.backend}{ready}")
        assert status == 503 and "redis" in json.dumps(body).lower(), body
        status, todos = http("GET", f"{stack.backend}/api/todos")
        assert status == 200, "reads keep working while the cache is down"
    finally:
        start_container(redis)
    wait_healthy(redis, 60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = http("GET", f"{stack.backend}{ready}")
        if status == 200:
            break
        time.sleep(1)
    assert status == 200, body


def test_teardown_removes_everything(stack):
    destroy(stack.docker, STACK)
    assert engine_api("GET", f"/containers/json?all=true&filters={stack_filter(STACK)}") == []
    assert (engine_api("GET", f"/volumes?filters={stack_filter(STACK)}")["Volumes"] or []) == []
    assert engine_api("GET", f"/networks?filters={stack_filter(STACK)}") == []
