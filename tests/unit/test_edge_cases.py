"""The laptop's edge cases (issue 39), stopped early and in words: a published port something else
holds, a nearly full disk (both before anything is created), a long-running service that crashes
or never gets healthy during `up`, and a cancelled program that ends without SDK tracebacks.
The real tier runs them on the engine: tests/real/test_edge_cases.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pulumi.errors import RunError

from components.core import cancellation
from components.plan.view import published_port
from components.targets.docker import disk_space, health_gates
from components.targets.docker.engine import PortHolder
from components.targets.docker.host_ports import WantedPort, port_problems, wanted_ports
from components.targets.docker.machine import loopback_port_in_use
from components.targets.host import PreflightError
from testing.harness import CATALOG, FakeEngine, resolved_stack, run_program

SPECS = CATALOG.by_name()
PUBLIC = [spec.name for spec in CATALOG.services if spec.public and spec.port]
GIB = disk_space.GIB


def dev_port(service: str) -> int:
    return published_port(SPECS[service], resolved_stack("dev").settings)


def refused(engine: FakeEngine, config: dict | None = None) -> tuple[str, list[str]]:
    """The dev program's refusal on `engine`, and what it registered before it (nothing, it must be)."""
    registered: list[str] = []
    with pytest.raises(PreflightError) as raised:
        run_program("dev", config, engine=engine, new_resource_hook=lambda args: registered.append(args.typ))
    return str(raised.value), registered


# --- port taken ---------------------------------------------------------------------------------


def test_every_published_port_is_wanted_with_the_setting_that_moves_it():
    stack = resolved_stack("dev")
    wanted = {w.port: w for w in wanted_ports(stack)}
    published = [s.name for s in stack.services.values() if s.published_port]
    assert set(PUBLIC) & set(stack.services) <= set(published) and published
    for service in published:
        want = wanted[dev_port(service)]
        assert (want.service, want.setting) == (service, f"dockyard:services.{service}.hostPort")


def test_debuggers_and_published_databases_are_wanted_too():
    stack = resolved_stack("dev", {"dev": {"debug": True, "publishDatabases": True}})
    settings = {w.setting for w in wanted_ports(stack)}
    debugged = [s.name for s in stack.services.values() if s.debug_port]
    assert debugged and all(f"dockyard:services.{name}.debugHostPort" in settings for name in debugged)
    stateful = [s.name for s in stack.services.values() if s.spec.state is not None and s.spec.port]
    assert stateful and all(f"dockyard:services.{name}.hostPort" in settings for name in stateful)


def test_a_port_another_program_holds_stops_the_program_before_any_resource():
    frontend = dev_port("frontend")
    message, registered = refused(FakeEngine(ports_in_use={frontend, frontend + 1}))
    assert registered == [] and "nothing was created" in message
    assert f"port {frontend} on 127.0.0.1, where frontend is published, is taken by another program" in message
    # the next free port is suggested, in the command that sets it
    assert f"`pulumi config set --path dockyard:services.frontend.hostPort {frontend + 2}`" in message


def test_a_port_another_stacks_container_holds_names_that_container():
    backend = dev_port("backend")
    holders = {backend: PortHolder("dockyard-other-backend", "other")}
    message, _ = refused(FakeEngine(holders=holders, ports_in_use={backend}))
    assert "is taken by stack 'other's container dockyard-other-backend" in message
    assert "dockyard:services.backend.hostPort" in message


def test_a_port_this_stacks_own_container_holds_is_not_taken():
    backend = dev_port("backend")
    engine = FakeEngine(holders={backend: PortHolder("dockyard-dev-backend", "dev")}, ports_in_use={backend})
    assert port_problems(engine, "dev", [WantedPort(backend, "backend", "backend", "k")]) == []
    run_program("dev", engine=engine)  # the second `up` goes on


def test_no_suggestion_when_the_engine_runs_elsewhere():
    class Remote(FakeEngine):
        def port_in_use(self, port):
            return None  # not visible from here

    holders = {3000: PortHolder("web", None)}
    (problem,) = port_problems(Remote(holders=holders), "dev", [WantedPort(3000, "frontend", "frontend", "k")])
    assert "taken by the container web" in problem and "k <a free port>" in problem


def test_the_probe_finds_a_listener_and_not_a_free_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert loopback_port_in_use(port) is True
    assert loopback_port_in_use(port) is False


# --- disk nearly full ---------------------------------------------------------------------------


def test_a_nearly_full_docker_root_stops_the_program_before_any_resource():
    message, registered = refused(FakeEngine(free={"/var/lib/docker": GIB // 2}))
    assert registered == [] and "nothing was created" in message
    # the engine's own builder keeps its cache in Docker's root: both needs on one disk
    assert "/var/lib/docker (Docker's root, BuildKit's cache of builder " in message and "has 0.5 GiB free" in message
    assert "needs about 3.0 GiB there (1.0 GiB for Docker's root + 2.0 GiB for BuildKit's cache" in message
    assert "`docker system df`" in message and "`docker builder prune`" in message


def test_enough_space_passes():
    run_program("dev", engine=FakeEngine(free={"/var/lib/docker": 4 * GIB}))


def test_without_builds_only_docker_root_counts(tmp_path):
    engine = FakeEngine(free={"/var/lib/docker": 2 * GIB})
    assert disk_space.disk_problems(engine, builds=False, builder=None, env={"DOCKER_CONFIG": str(tmp_path)}) == []
    (problem,) = disk_space.disk_problems(engine, builds=True, builder=None, env={"DOCKER_CONFIG": str(tmp_path)})
    assert "2.0 GiB free" in problem and "3.0 GiB" in problem


def write_builder(config_dir: Path, name: str, driver: str, endpoint: str) -> None:
    instances = config_dir / "buildx" / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    (instances / name).write_text(
        f'{{"Name": "{name}", "Driver": "{driver}", "Nodes": [{{"Name": "{name}0", "Endpoint": "{endpoint}"}}]}}'
    )


def test_a_docker_container_builder_keeps_its_cache_in_docker_root(tmp_path):
    write_builder(tmp_path, "box", "docker-container", "unix:///var/run/docker.sock")
    assert disk_space.buildkit_root("box", "/d", {"DOCKER_CONFIG": str(tmp_path)}) == ("/d", "box")
    (tmp_path / "buildx" / "current").write_text('{"Key": "unix:///var/run/docker.sock", "Name": "box"}')
    assert disk_space.buildkit_root(None, "/d", {"DOCKER_CONFIG": str(tmp_path)}) == ("/d", "box")


def test_a_local_remote_builders_root_is_its_buildkitds_root_flag(tmp_path):
    sock = tmp_path / "bk.sock"
    daemon_root = tmp_path / "state"
    daemon_root.mkdir()
    listener = subprocess.Popen(
        [sys.executable, "-c", "import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]);"
         " s.listen(); time.sleep(60)", str(sock), "--root", str(daemon_root)],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        write_builder(tmp_path, "bk", "remote", f"unix://{sock}")
        env = {"DOCKER_CONFIG": str(tmp_path)}
        assert disk_space.buildkit_root("bk", "/d", env) == (str(daemon_root), "bk")
        # one problem whether or not the test's directory shares Docker's root's disk
        engine = FakeEngine(free={str(daemon_root): GIB, "/var/lib/docker": GIB})
        (problem,) = disk_space.disk_problems(engine, builds=True, builder="bk", env=env)
        assert f"{daemon_root} (BuildKit's cache of builder bk)" in problem and "1.0 GiB free" in problem
        assert "`docker buildx prune --builder bk`" in problem
    finally:
        listener.kill()
        listener.wait()


def test_a_builder_on_another_machine_is_not_checked(tmp_path):
    write_builder(tmp_path, "far", "remote", "tcp://10.0.0.9:1234")
    assert disk_space.buildkit_root("far", "/d", {"DOCKER_CONFIG": str(tmp_path)}) == (None, "far")


# --- crash on start -----------------------------------------------------------------------------


@pytest.fixture
def up(monkeypatch):
    monkeypatch.setattr(health_gates.pulumi.runtime, "is_dry_run", lambda: False)
    monkeypatch.setattr(health_gates.pulumi.log, "info", lambda *a, **k: None)


def gate(engine: FakeEngine, timeout: int = 30):
    now = [0.0]
    return health_gates.wait_healthy(engine, "redis", timeout, clock=lambda: now[0],
                                     sleep=lambda s: now.__setitem__(0, now[0] + s))  # fmt: skip


def running(health: str = "starting", restarts: int = 0) -> dict:
    return {"Status": "running", "Health": {"Status": health}, "RestartCount": restarts, "ExitCode": 0}


def test_a_service_that_exits_on_start_fails_the_up_at_once_with_its_exit_code_and_output(up):
    crashed = {"Status": "restarting", "Health": {"Status": "unhealthy"}, "RestartCount": 1, "ExitCode": 1}
    logs = "\n".join(f"line {n}" for n in range(40)) + "\n*** FATAL CONFIG FILE ERROR ***"
    engine = FakeEngine(states=[running(), crashed], logs=logs)
    with pytest.raises(health_gates.ServiceFailed) as raised:
        gate(engine)("c0ffee")
    message = str(raised.value)
    assert isinstance(raised.value, RunError)  # printed alone: no traceback
    assert message.startswith("service 'redis' stopped on start: it exited with code 1 and Docker is restarting it")
    assert "| *** FATAL CONFIG FILE ERROR ***" in message and "| line 21" in message and "| line 20\n" not in message
    assert "`make up` (or `pulumi up --refresh`) starts it again" in message
    assert engine.stopped == ["c0ffee"]  # no crash loop meanwhile; the next up's refresh starts it


def test_a_restart_during_the_wait_is_a_crash_but_one_before_it_is_not(up):
    engine = FakeEngine(states=[running(restarts=3), running(restarts=3), running(restarts=4)])
    with pytest.raises(health_gates.ServiceFailed, match="stopped on start"):
        gate(engine)("c0ffee")
    assert gate(FakeEngine(states=[running(restarts=3), running("healthy", restarts=3)]))("c0ffee") == "healthy"


def test_a_service_never_healthy_fails_with_its_status_and_last_health_check(up):
    probe = {"ExitCode": 1, "Output": "connection refused\n"}
    engine = FakeEngine(states=[{**running("unhealthy"), "Health": {"Status": "unhealthy", "Log": [probe]}}], logs="ok")
    with pytest.raises(health_gates.ServiceFailed) as raised:
        gate(engine, timeout=5)("c0ffee")
    message = str(raised.value)
    assert "service 'redis' is unhealthy, not healthy, after 5s" in message
    assert "Its last health check exited 1: connection refused." in message and "| ok" in message


# --- a cancelled program ------------------------------------------------------------------------


def test_only_the_language_hosts_process_exits_quietly_on_sigint(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    cancellation.exit_quietly_when_cancelled()  # pytest's process: left alone
    assert signal.getsignal(signal.SIGINT) is before
    executor = tmp_path / cancellation.LANGUAGE_HOST_EXECUTOR  # a script of the executor's name
    executor.write_text(
        "import os, signal, sys, time\n"
        "sys.argv = ['__main__.py']  # as the executor sets it\n"
        "from components.core.cancellation import exit_quietly_when_cancelled\n"
        "exit_quietly_when_cancelled()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(5)\n"
    )
    done = subprocess.run([sys.executable, str(executor)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})  # fmt: skip
    assert done.returncode == cancellation.CANCELLED_EXIT_CODE and "Traceback" not in done.stderr, done.stderr
