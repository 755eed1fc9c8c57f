"""Faults a user meets with the plain commands (issue 36), under the real CLI, language host and
providers, on one trial stack: nothing lost, nothing stuck.

1. `pulumi destroy`, then `pulumi up`: the generated database password is new, the kept volume
   opens with it (the database image applies the password it is given on every start), and a todo
   made before is still there; the same after the password is replaced on purpose.
2. An `up` interrupted while containers are being created, by SIGKILL and by SIGINT (Ctrl-C): the
   next `make up`, and the plain `pulumi refresh` + `pulumi up`, finish with no state surgery: one
   container per service, one network, and the todo kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from testing.reference_app import API, SERVICES
from testing.trial_stack import Project, cli_tools, initialised_stack
from tests.real.conftest import docker, wait_until

PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


def http(method: str, url: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def api(project: Project) -> str:
    return project.outputs()["urls"][API]


def stack_objects(project: Project) -> tuple[list[str], list[str]]:
    """(container names, network names) on the engine carrying the stack's label."""
    label = f"label=dockyard.dev/stack={project.stack}"
    containers = docker("ps", "-a", "--filter", label, "--format", "{{.Names}}").split()
    networks = docker("network", "ls", "--filter", label, "--format", "{{.Name}}").split()
    return containers, networks


def assert_whole(project: Project, todo_id: int) -> None:
    """Every service's container once, one network, and the todo made at the start."""
    containers, networks = stack_objects(project)
    assert sorted(containers) == sorted(f"{project.prefix}-{s}" for s in SERVICES), containers
    assert networks == [f"{project.prefix}-net"], networks
    status, todo = http("GET", f"{api(project)}/api/todos/{todo_id}")
    assert status == 200 and todo["title"] == "made before the fault", (status, todo)


def interrupted_up(project: Project, how: signal.Signals) -> str:
    """`pulumi up --yes`, stopped by `how` once the stack's first container exists (the provider
    is creating containers): SIGKILL to the CLI alone, as `kill -9` does; SIGINT to its process
    group, as Ctrl-C in a terminal does. Returns what it printed."""
    tools = cli_tools()
    log = project.dir.parent / f"interrupted-{how.name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(tools.pulumi), "up", "--yes", "--stack", project.stack],
            cwd=project.dir,
            env={**os.environ, **tools.env, **project.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(lambda: stack_objects(project)[0] or proc.poll() is not None, 900, "a container", 0.1)
            assert proc.poll() is None, log.read_text()[-3000:]
            if how == signal.SIGKILL:
                os.kill(proc.pid, how)
            else:
                os.killpg(proc.pid, how)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0, "the up finished before it was interrupted"
    return log.read_text()


def down_to_volumes(project: Project) -> None:
    """`pulumi destroy`: containers and network gone, volumes kept (retainOnDelete)."""
    destroyed = project.pulumi("destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.output[-3000:]
    assert stack_objects(project) == ([], [])


@pytest.fixture(scope="module")
def project(tmp_path_factory, tools_bin, docker_engine) -> Iterator[Project]:
    with initialised_stack(tmp_path_factory.mktemp("real-faults")) as project:
        yield project


@pytest.fixture(scope="module")
def todo_id(project) -> int:
    started = project.pulumi("up", "--yes")
    assert started.returncode == 0, started.output[-5000:]
    status, todo = http("POST", f"{api(project)}/api/todos", {"title": "made before the fault"})
    assert status == 201, (status, todo)
    return int(todo["id"])


def test_1_destroy_then_up_finds_the_data(project, todo_id):
    password_before = password_resource(project)["outputs"]["result"]
    down_to_volumes(project)
    up = project.pulumi("up", "--yes")
    assert up.returncode == 0, up.output[-5000:]
    assert password_resource(project)["outputs"]["result"] != password_before, "the password was not new"
    assert_whole(project, todo_id)


def password_resource(project: Project) -> dict:
    exported = project.pulumi("stack", "export", "--show-secrets")
    assert exported.returncode == 0, exported.output[-2000:]
    resources = json.loads(exported.stdout)["deployment"]["resources"]
    return next(r for r in resources if r["type"] == PASSWORD_TYPE)


def test_2_a_password_replaced_on_purpose_opens_the_data(project, todo_id):
    urn = password_resource(project)["urn"]
    up = project.pulumi("up", "--yes", "--replace", urn)
    assert up.returncode == 0, up.output[-5000:]
    assert_whole(project, todo_id)


def test_3_sigkill_while_creating_then_make_up(project, todo_id):
    down_to_volumes(project)
    interrupted_up(project, signal.SIGKILL)
    driven = project.drive("up")
    assert driven.returncode == 0, driven.output[-5000:]
    assert "Conflict" not in driven.output
    assert_whole(project, todo_id)
    assert project.pulumi("preview", "--expect-no-changes").returncode == 0


def test_4_sigint_while_creating_then_plain_refresh_and_up(project, todo_id):
    down_to_volumes(project)
    printed = interrupted_up(project, signal.SIGINT)
    assert "Traceback" not in printed, printed[-3000:]
    refreshed = project.pulumi("refresh", "--yes")
    assert refreshed.returncode == 0, refreshed.output[-3000:]
    up = project.pulumi("up", "--yes")
    assert up.returncode == 0, up.output[-5000:]
    assert "Conflict" not in up.output
    assert_whole(project, todo_id)


def test_5_sigkill_while_creating_then_plain_commands(project, todo_id):
    down_to_volumes(project)
    interrupted_up(project, signal.SIGKILL)
    time.sleep(2)  # the killed CLI's plugins notice and exit
    # What the CLI says after a kill: the lock (`pulumi cancel`), then the pending creates.
    for args in (("cancel", "--yes"), ("refresh", "--yes", "--clear-pending-creates")):
        done = project.pulumi(*args)
        assert done.returncode == 0, done.output[-3000:]
    up = project.pulumi("up", "--yes")
    assert up.returncode == 0, up.output[-5000:]
    assert "Conflict" not in up.output
    assert_whole(project, todo_id)
