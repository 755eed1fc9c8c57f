"""The dev stack under the real Pulumi engine: the commands a developer types, as typed.

Plain `pulumi` (`project.pulumi`) and `make up`/`down` (`project.drive`: scripts/dockyard.py,
which runs the same plain commands) run the checked-in program through the Python language
host with the real CLI and plugins, all built here (machine/toolchain/pulumi-tools.sh; README "Testing").
Each step below is what a developer does, in order, on one stack of a copy of this checkout;
the containers are reached only through the ports they publish on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import yaml

from machine.base_images import air_gapped
from testing.harness import CATALOG, resolved_stack
from testing.reference_app import API, CACHE, DATABASE, PROBES_SOURCE, WEB
from testing.trial_stack import PROJECT_DIR, Project, copied_project, free_port, new_project, remove_leftovers, tag_of
from tests.real.conftest import container_ids, docker, inspect, wait_until

SPECS = CATALOG.by_name()
# What the dev stack runs: every catalog service its settings enable (not the monitoring service,
# which waits for dev.monitoring: tests/real/test_dev_loop.py).
RUNS = set(resolved_stack("dev").services)
ONE_SHOT = {spec.name for spec in CATALOG.services if spec.one_shot}
# Services that run the backend's image: its own, and those that say imageOf: backend.
ON_API_IMAGE = {spec.name for spec in CATALOG.services if spec.name == API or spec.image_of == API}
MIGRATE = "apps/backend/src/todo_api/migrate.py"


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return 0, str(error)


def psql(project: Project, sql: str) -> str:
    return docker("exec", f"{project.prefix}-{DATABASE}", "psql", "-U", "todo", "-d", "todo", "-tAc", sql)


def urls(project: Project) -> dict[str, str]:
    return project.outputs()["urls"]


def livez_edit(project: Project, marker: str) -> None:
    """A one-line change to the backend's source that /livez shows."""
    path = project.dir / PROBES_SOURCE
    text = path.read_text()
    start = text.index('    return {"status": "ok"')
    end = text.index("\n", start)
    path.write_text(text[:start] + f'    return {{"status": "ok", "edit": "{marker}"}}' + text[end:])


def livez_marker(project: Project) -> str | None:
    status, body = http("GET", f"{urls(project)[API]}/livez")
    return body.get("edit") if status == 200 and isinstance(body, dict) else None


def running_services(project: Project) -> dict[str, dict]:
    """service -> its container's state, for the stack's containers."""
    return {name.removeprefix(f"{project.prefix}-"): inspect(name)["State"] for name in container_ids(project.prefix)}


def assert_all_healthy(project: Project) -> None:
    states = running_services(project)
    assert set(states) == RUNS, f"containers {sorted(states)}, the stack's services {sorted(RUNS)}"
    for service, state in states.items():
        if service in ONE_SHOT:
            assert state["Status"] == "exited" and state["ExitCode"] == 0, (service, state)
        else:
            assert state["Health"]["Status"] == "healthy", (service, state["Health"])


def assert_succeeded(driven, what: str) -> None:
    assert driven.returncode == 0, f"{what} failed:\n{driven.output[-6000:]}"


@pytest.fixture(scope="module")
def project(tmp_path_factory, tools_bin, docker_engine) -> Project:
    project = new_project(tmp_path_factory.mktemp("real-dev"))
    # As a user starts a stack: `pulumi stack init`, then a setting through `pulumi config set`.
    assert_succeeded(project.pulumi("stack", "init"), "pulumi stack init")
    tag = project.config()["dockyard:images"]["tag"]
    assert_succeeded(project.pulumi("config", "set", "--path", "dockyard:images.tag", tag), "pulumi config set --path")
    yield project
    project.drive("down", "--purge", timeout=600)
    remove_leftovers(project.stack)


def test_1_up_from_nothing_serves_a_todo_end_to_end(project):
    driven = project.pulumi("up", "--yes")
    assert_succeeded(driven, "pulumi up --yes")
    assert "from $PATH" not in driven.output, "the language host beside the CLI, not another one"
    assert_all_healthy(project)
    status, todo = http("POST", f"{urls(project)[WEB]}/api/todos", {"title": "through the real engine"})
    assert status == 201, todo
    status, read_back = http("GET", f"{urls(project)[API]}/api/todos/{int(todo['id'])}")
    assert status == 200 and read_back["title"] == "through the real engine", read_back
    assert psql(project, f"select title from todos where id = {int(todo['id'])}") == "through the real engine"


def test_2_nothing_changes_on_a_second_preview_and_up(project):
    # The pack runs through the language host, in its own virtualenv (policy/PulumiPolicy.yaml).
    previewed = project.pulumi("preview", "--expect-no-changes", "--policy-pack", "policy",
                               "--policy-pack-config", "policy/config/dev.json")
    assert_succeeded(previewed, "pulumi preview --expect-no-changes --policy-pack policy")
    assert "dockyard@v" in previewed.output and "Policies" in previewed.output, previewed.output[-3000:]
    before = container_ids(project.prefix)
    driven = project.pulumi("up", "--yes")
    assert_succeeded(driven, "second pulumi up --yes")
    assert set(project.last_changes()) == {"same"}, driven.output[-3000:]
    assert container_ids(project.prefix) == before


def test_2b_readiness_follows_redis_and_reads_go_on(project):
    redis = f"{project.prefix}-{CACHE}"
    ready = SPECS[API].health.readiness_path
    docker("stop", "--time", "10", redis)
    try:
        status, body = http("GET", f"{urls(project)[API]}{ready}")
        assert status == 503 and "redis" in str(body).lower(), body
        status, todos = http("GET", f"{urls(project)[API]}/api/todos")
        assert status == 200, "reads keep working while the cache is down"
    finally:
        docker("start", redis)
    wait_until(lambda: http("GET", f"{urls(project)[API]}{ready}")[0] == 200, 60, "the backend ready again")


def test_2c_sigterm_lets_an_in_flight_request_finish(project):
    backend = f"{project.prefix}-{API}"
    # Hold a lock so the next write waits inside the backend: a slow request, for real.
    locker = subprocess.Popen(
        ["docker", "exec", f"{project.prefix}-{DATABASE}", "psql", "-U", "todo", "-d", "todo", "-c",
         "BEGIN; LOCK TABLE todos IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # The lock is held before the write starts (`docker exec` alone can take seconds under load).
    wait_until(lambda: psql(project, "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                                     "where c.relname = 'todos' and l.mode = 'AccessExclusiveLock' and l.granted") == "1",
               30, "the lock on todos held")
    result: dict = {}
    api = urls(project)[API]
    writer = threading.Thread(target=lambda: result.update(
        zip(("status", "body"), http("POST", f"{api}/api/todos", {"title": "in flight"}, timeout=60), strict=True)))
    writer.start()
    time.sleep(1.5)
    assert writer.is_alive(), "the request should still be waiting on the lock"
    docker("kill", "--signal", "TERM", backend)
    writer.join(timeout=60)
    locker.wait(timeout=60)
    assert result.get("status") == 201, result
    assert psql(project, "select count(*) from todos where title = 'in flight'") == "1"
    wait_until(lambda: not inspect(backend)["State"]["Running"] or inspect(backend)["RestartCount"] > 0, 60,
               "the backend stopped (or restarted) after SIGTERM")
    state = inspect(backend)["State"]
    assert state["ExitCode"] == 0 or state["Running"], state  # exited cleanly (or already restarted)
    # The next `make up` (which refreshes first) brings it back, as for any container stopped outside Pulumi.
    assert_succeeded(project.drive("up"), "up after the backend stopped")
    assert_all_healthy(project)


def test_3_a_backend_change_replaces_exactly_what_runs_that_image(project):
    before = container_ids(project.prefix)
    todos_before = psql(project, "select count(*) from todos")
    marker = secrets.token_hex(4)
    livez_edit(project, marker)
    assert_succeeded(project.drive("up"), "up after a backend change")
    after = container_ids(project.prefix)
    replaced = {name.removeprefix(f"{project.prefix}-") for name in before if before[name] != after.get(name)}
    assert replaced == ON_API_IMAGE, replaced
    assert livez_marker(project) == marker
    assert psql(project, "select count(*) from todos") == todos_before
    assert_all_healthy(project)


def test_4_a_failing_migration_stops_the_up_and_the_fix_recovers(project):
    path = project.dir / MIGRATE
    original = path.read_text()
    broken = original.replace("    args = sys.argv[1:] if argv is None else argv\n",
                              '    raise SystemExit("real tier: this migration fails on purpose")\n', 1)
    assert broken != original
    path.write_text(broken)
    before = container_ids(project.prefix)
    driven = project.drive("up")
    assert driven.returncode != 0
    assert "one-shot service 'migrations' exited with code 1" in driven.output, driven.output[-4000:]
    assert "this migration fails on purpose" in driven.output  # its own output, quoted
    after = container_ids(project.prefix)
    assert after[f"{project.prefix}-{API}"] == before[f"{project.prefix}-{API}"], "the backend was not replaced"
    assert inspect(f"{project.prefix}-{API}")["State"]["Health"]["Status"] == "healthy"
    path.write_text(original)
    assert_succeeded(project.drive("up"), "up after the fix")
    assert_all_healthy(project)


def database_password(project: Project) -> str:
    """The stack's generated password, as the backend's env carries it (its DATABASE_URL)."""
    env = dict(e.split("=", 1) for e in inspect(f"{project.prefix}-{API}")["Config"]["Env"])
    return env["DATABASE_URL"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def test_4b_a_one_shot_failing_for_an_outside_cause_reruns_with_no_change(project):
    """The cause lies outside the inputs (the database no longer takes the stack's password):
    once it is fixed, the next `up` reruns the one-shot although nothing in the stack changed."""
    password = database_password(project)
    psql(project, "alter role todo password 'not-the-stacks-password'")  # the socket trusts: psql still works
    livez_edit(project, secrets.token_hex(4))  # a new image: the migrations run again, and fail
    driven = project.drive("up")
    assert driven.returncode != 0 and "one-shot service 'migrations' exited" in driven.output, driven.output[-4000:]
    assert "password authentication failed" in driven.output
    psql(project, f"alter role todo password '{password}'")
    assert_succeeded(project.drive("up"), "up once the database takes the password again")
    assert_all_healthy(project)


def test_5_a_container_stopped_by_hand_comes_back(project):
    docker("stop", "--time", "10", f"{project.prefix}-{CACHE}")
    assert_succeeded(project.drive("up"), "up after a container was stopped by hand")
    assert_all_healthy(project)
    status, body = http("GET", f"{urls(project)[API]}/readyz")
    assert status == 200, body


def test_6_hot_reload_serves_an_edit_without_up(project):
    config = project.config()
    config["dockyard:dev"] = {**config.get("dockyard:dev", {}), "hotReload": True}
    project.write_config(config)
    assert_succeeded(project.drive("up"), "up with dev.hotReload")
    assert_all_healthy(project)
    marker = secrets.token_hex(4)
    livez_edit(project, marker)
    wait_until(lambda: livez_marker(project) == marker, 60, "the edited /livez served by the hot-reloading backend")
    config["dockyard:dev"]["hotReload"] = False
    project.write_config(config)
    assert_succeeded(project.drive("up"), "up back without hot reload")


def test_7_down_keeps_the_data_and_a_later_up_finds_it(project):
    status, todo = http("POST", f"{urls(project)[API]}/api/todos", {"title": "kept by down"})
    assert status == 201, todo
    assert_succeeded(project.drive("down"), "down")
    assert container_ids(project.prefix) == {}
    assert docker("network", "ls", "-q", "--filter", f"name={project.prefix}-net") == ""
    volumes = docker("volume", "ls", "-q", "--filter", f"label=dockyard.dev/stack={project.stack}").split()
    assert sorted(volumes) == sorted(f"{project.prefix}-{s.name}-data" for s in CATALOG.services if s.state and s.name in RUNS)
    assert_succeeded(project.drive("up"), "up after down")
    assert_all_healthy(project)
    status, read_back = http("GET", f"{urls(project)[API]}/api/todos/{int(todo['id'])}")
    assert status == 200 and read_back["title"] == "kept by down", read_back


def test_8_pulumi_destroy_removes_everything_but_the_data_and_down_purge_that_too(project):
    assert_succeeded(project.pulumi("destroy", "--yes"), "pulumi destroy --yes")
    assert container_ids(project.prefix) == {}
    assert docker("network", "ls", "-q", "--filter", f"name={project.prefix}-net") == ""
    assert project.last_changes().get("delete", 0) > 0
    assert docker("volume", "ls", "-q", "--filter", f"label=dockyard.dev/stack={project.stack}") != ""  # retained
    assert_succeeded(project.drive("down", "--purge"), "down --purge")
    assert docker("volume", "ls", "-q", "--filter", f"label=dockyard.dev/stack={project.stack}") == ""


def test_make_up_and_down_from_a_fresh_copy(tmp_path, tools_bin, docker_engine):
    """The README's first command on a fresh copy with the checked-in dev settings (only the
    host ports and the image tag are the run's own): a virtualenv made by `make`, the tools found
    (or built) by the driver, the plain commands it runs said; where no registry serves the
    catalog's public images, the air-gapped ones built and used with no edit of the stack file;
    a healthy stack, then `make down purge=1`."""
    project = copied_project(tmp_path, f"fresh{secrets.token_hex(3)}", share_virtualenvs=False)
    checked_in = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    ports = {name: {"hostPort": free_port()} for name, value in checked_in["dockyard:services"].items()
             if "hostPort" in value}
    project.write_config(air_gapped.merged(checked_in, {"dockyard:images": {"tag": tag_of(project.stack)},
                                                        "dockyard:services": ports}))
    edited = project.dir / f"Pulumi.{project.stack}.yaml"
    make = ["make", "--no-print-directory", f"STACK={project.stack}"]
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"} | project.env
    try:
        up = subprocess.run([*make, "up"], cwd=project.dir, env=env, capture_output=True, text=True, timeout=2400)
        said = up.stdout + up.stderr
        assert up.returncode == 0, said[-6000:]
        assert "Python language host" in up.stderr and "stand-in" not in said.lower()
        (typed,) = [line for line in up.stdout.splitlines() if line.startswith("$ pulumi up ")]
        if air_gapped.unreachable(*air_gapped.wanted_images(project.dir, checked_in)):
            assert "building dockyard's air-gapped images" in up.stderr, said[-3000:]
            overlay = f" --config-file .air-gapped/Pulumi.{project.stack}.yaml"
        else:
            overlay = ""
        assert typed == f"$ pulumi up --yes --skip-preview --refresh{overlay} --stack {project.stack}"
        images = yaml.safe_load(edited.read_text())["config"]["dockyard:images"]
        assert "builder" not in images and "baseImages" not in images, "make up edited the stack file"
        assert_all_healthy(project)
        status, todo = http("POST", f"{urls(project)[WEB]}/api/todos", {"title": "from a fresh copy"})
        assert status == 201, todo
        down = subprocess.run([*make, "down", "purge=1"], cwd=project.dir, env=env, capture_output=True, text=True, timeout=900)
        assert down.returncode == 0, (down.stdout + down.stderr)[-4000:]
        assert container_ids(project.prefix) == {}
    finally:
        remove_leftovers(project.stack)
    assert PROJECT_DIR != project.dir
