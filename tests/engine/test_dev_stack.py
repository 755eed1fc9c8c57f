"""The dev stack the program defines, brought up on a real Docker engine.

The program runs under Pulumi's mocks with `RealDocker` standing in for the
providers: every network, volume, image and container it registers is created on
the engine from exactly the inputs the program passed. Settings select the
air-gapped images (the program itself does not change). Tests talk to the stack
only through the ports it publishes on 127.0.0.1, in the order written here.
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

from components.preflight import DockerEngine, docker_host
from tests.engine import dockerlib as dl
from tests.engine.conftest import APP_VERSION, BASE_NODE, BASE_PYTHON, POSTGRES, REDIS, RUNTIME_NODE, RUNTIME_PYTHON
from tests.engine.real_docker import (
    RealDocker,
    air_gapped_dev_config,
    container_state,
    destroy,
    engine_api,
    free_port,
    stack_filter,
    start_container,
    stop_container,
    wait_healthy,
)
from tests.harness import ProgramRun, run_program

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
    return dl.docker("exec", f"{PREFIX}-postgres", "psql", "-U", "todo", "-d", "todo", "-tAc", sql).strip()


@dataclass
class DevStack:
    run: ProgramRun
    docker: RealDocker
    frontend: str
    backend: str
    up_seconds: float


@pytest.fixture(scope="module")
def stack(base_images) -> DevStack:
    docker = RealDocker()
    bases = {"backend": BASE_PYTHON, "frontend": BASE_NODE, "postgres": POSTGRES, "redis": REDIS}
    runtime_bases = {"backend": RUNTIME_PYTHON, "frontend": RUNTIME_NODE}
    config = air_gapped_dev_config(free_port(), free_port(), tag=APP_VERSION, bases=bases, runtime_bases=runtime_bases)
    start = time.monotonic()
    try:
        run = run_program(STACK, config, config_stack="dev", new_resource_hook=docker, engine=DockerEngine(docker_host(None)))
    except Exception:
        destroy(docker, STACK)
        raise
    up_seconds = time.monotonic() - start
    yield DevStack(run, docker, run.outputs["urls"]["frontend"], run.outputs["urls"]["backend"], up_seconds)
    destroy(docker, STACK)


def test_stack_comes_up_healthy_within_bound(stack):
    assert stack.up_seconds < UP_BOUND_SECONDS
    for service in ("postgres", "redis", "backend", "frontend"):
        assert container_state(f"{PREFIX}-{service}")["Health"]["Status"] == "healthy", service
    migrations = container_state(f"{PREFIX}-migrations")
    assert migrations["Status"] == "exited" and migrations["ExitCode"] == 0
    assert stack.frontend.startswith("http://127.0.0.1:") and stack.backend.startswith("http://127.0.0.1:")


def test_containers_run_as_the_program_asked(stack):
    backend = engine_api("GET", f"/containers/{PREFIX}-backend/json")
    host = backend["HostConfig"]
    assert backend["Config"]["User"] == "1000:1000"
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Memory"] == 512 * 2**20
    assert backend["Config"]["Healthcheck"]["StartInterval"] > 0, "the engine polls faster while starting"
    assert [b["HostIp"] for b in host["PortBindings"]["8000/tcp"]] == ["127.0.0.1"]
    uid = dl.docker("exec", f"{PREFIX}-backend", "python", "-c", "import os; print(os.getuid())").strip()
    assert uid == "1000"


def test_todo_created_through_frontend_reaches_postgres(stack):
    status, todo = http("POST", f"{stack.frontend}/api/todos", {"title": "ship dockyard"})
    assert status == 201, todo
    assert psql(f"select title from todos where id = {int(todo['id'])}") == "ship dockyard"
    status, todos = http("GET", f"{stack.frontend}/api/todos")
    assert status == 200 and "ship dockyard" in [t["title"] for t in todos]


def test_replacing_backend_and_postgres_loses_no_todo(stack):
    status, todo = http("POST", f"{stack.backend}/api/todos", {"title": "survives replacement"})
    assert status == 201, todo
    for service in ("postgres", "backend"):
        stack.docker.replace(f"{PREFIX}-{service}")
    status, todos = http("GET", f"{stack.frontend}/api/todos")
    assert status == 200, todos
    assert {"ship dockyard", "survives replacement"} <= {t["title"] for t in todos}


def test_sigterm_lets_an_in_flight_request_finish(stack):
    backend = f"{PREFIX}-backend"
    # Hold a lock so the next write waits inside the backend: a slow request, for real.
    locker = subprocess.Popen(
        [
            dl.DOCKER,
            "exec",
            f"{PREFIX}-postgres",
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
    redis = f"{PREFIX}-redis"
    stop_container(redis, seconds=10)
    try:
        status, body = http("GET", f"{stack.backend}/readyz")
        assert status == 503 and "redis" in json.dumps(body).lower(), body
        status, todos = http("GET", f"{stack.backend}/api/todos")
        assert status == 200, "reads keep working while the cache is down"
    finally:
        start_container(redis)
    wait_healthy(redis, 60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = http("GET", f"{stack.backend}/readyz")
        if status == 200:
            break
        time.sleep(1)
    assert status == 200, body


def test_teardown_removes_everything(stack):
    destroy(stack.docker, STACK)
    assert engine_api("GET", f"/containers/json?all=true&filters={stack_filter(STACK)}") == []
    assert (engine_api("GET", f"/volumes?filters={stack_filter(STACK)}")["Volumes"] or []) == []
    assert engine_api("GET", f"/networks?filters={stack_filter(STACK)}") == []
