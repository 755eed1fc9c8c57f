"""The dev loop under the real Pulumi engine: `dev.debug` and `dev.monitoring` on a trial stack.

One `up` of a copy of this checkout with both turned on (dockyard's air-gapped images, free
loopback ports), then what a developer does after it: attach a debugger to each published debug
port (a Debug Adapter Protocol session with debugpy: `initialize`, then `attach` with a breakpoint
that a real request stops at; the Node inspector's `/json/version` and `/json/list`), and ask
Prometheus whether it scrapes what the catalog declares (`up == 1`). `down --purge` last.

What the program asks for (commands, ports, the scrape config) is checked fast under mocks in
tests/unit/test_dev_loop.py; this is the proof that the debuggers and Prometheus really answer.
"""

from __future__ import annotations

import importlib.util
import json
import posixpath
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from components.core.docker_names import config_writer_name
from testing.harness import CATALOG
from testing.reference_app import API, PROBES_SOURCE, WEB
from testing.trial_stack import PROJECT_DIR, Project, free_port, new_project, remove_leftovers
from tests.real.conftest import docker, inspect, wait_until

SPECS = CATALOG.by_name()
DEBUGGED = {spec.name for spec in CATALOG.services if spec.debug is not None}
MONITOR = next(spec.name for spec in CATALOG.services if spec.monitoring is not None)
# What Prometheus should scrape: every service running in the stack that declares metrics.
SCRAPED = {spec.name for spec in CATALOG.services if spec.metrics is not None}
# A line of the backend's /livez handler (PROBES_SOURCE) to stop at.
LIVEZ_LINE = '    return {"status": "ok"'


def _dap_client():
    """The command-line client the README shows (scripts/dap_attach.py), so it is tested here."""
    spec = importlib.util.spec_from_file_location("dap_attach", PROJECT_DIR / "scripts" / "dap_attach.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Dap


Dap = _dap_client()


def get_json(url: str, timeout: float = 10) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def project(tmp_path_factory, tools_bin, docker_engine) -> Project:
    project = new_project(tmp_path_factory.mktemp("real-dev-loop"))
    config = project.config()
    config["dockyard:dev"] = {**(config.get("dockyard:dev") or {}), "debug": True, "monitoring": True}
    for name in DEBUGGED:  # free loopback ports, as the trial stack picks for the services
        config["dockyard:services"].setdefault(name, {})["debugHostPort"] = free_port()
    project.write_config(config)
    project.up = project.drive("up")
    yield project
    if not getattr(project, "purged", False):
        project.drive("down", "--purge", timeout=600)
    remove_leftovers(project.stack)


@pytest.fixture(scope="module")
def outputs(project) -> dict:
    assert project.up.returncode == 0, f"up with dev.debug and dev.monitoring failed:\n{project.up.output[-6000:]}"
    return project.outputs()


def debug_port(outputs: dict, service: str) -> int:
    host, port = outputs["debug"][service].rsplit(":", 1)
    assert host == "127.0.0.1"
    return int(port)


def test_1_up_runs_the_debugged_dev_stages_and_prometheus_hardened(project, outputs):
    print(f"\nup with dev.debug and dev.monitoring: {project.up.seconds:.1f} s")
    config = project.config()["dockyard:services"]
    assert outputs["debug"] == {name: f"127.0.0.1:{config[name]['debugHostPort']}" for name in DEBUGGED}
    assert MONITOR in outputs["urls"]
    for name in DEBUGGED:
        container = inspect(f"{project.prefix}-{name}")
        assert container["Config"]["Cmd"] == list(SPECS[name].debug.command), name
        bound = container["HostConfig"]["PortBindings"][f"{SPECS[name].debug.port}/tcp"]
        assert bound == [{"HostIp": "127.0.0.1", "HostPort": str(config[name]["debugHostPort"])}], bound
    prometheus = inspect(f"{project.prefix}-{MONITOR}")
    assert prometheus["HostConfig"]["ReadonlyRootfs"] is True
    assert prometheus["Config"]["User"] == SPECS[MONITOR].user
    assert prometheus["HostConfig"]["CapDrop"] == ["ALL"]
    assert prometheus["State"]["Health"]["Status"] == "healthy"
    # Its config writer (created, never started) mounts the config volume and nothing else: an
    # empty tmpfs over the image's VOLUME keeps Docker from giving it an anonymous volume.
    writer = inspect(config_writer_name(project.stack, MONITOR))  # `<prefix>-<monitor>_config`: no service's name
    assert [(m["Type"], m["Destination"]) for m in writer["Mounts"]] == [
        ("volume", posixpath.dirname(SPECS[MONITOR].monitoring.config_file))
    ], writer["Mounts"]
    # The debugged backend runs the mounted-source layout .vscode/launch.json maps (/app/src).
    where = docker("exec", f"{project.prefix}-{API}", "python", "-c", "import todo_api; print(todo_api.__file__)")
    assert where == f"{SPECS[API].build.source_mount}/todo_api/__init__.py"


def test_1b_a_second_preview_changes_nothing_and_passes_the_policy_pack(project, outputs):
    # The config writer (created, never started), the uploads and the labels read back as sent.
    previewed = project.drive("preview", "--expect-no-changes", "--policy-pack")
    assert previewed.returncode == 0, previewed.output[-4000:]
    assert "Policies" in previewed.output, previewed.output[-3000:]


def test_2_debugpy_answers_dap_and_stops_a_real_request_at_a_breakpoint(project, outputs):
    port = debug_port(outputs, API)
    line = next(
        n for n, text in enumerate((project.dir / PROBES_SOURCE).read_text().splitlines(), 1) if text.startswith(LIVEZ_LINE)
    )
    remote = f"{SPECS[API].build.source_mount}/todo_api/probes.py"
    dap = Dap(port)
    try:
        initialize = dap.response(dap.send("initialize", {"clientID": "dockyard-real-tier", "adapterID": "debugpy"}))
        assert initialize["body"]["supportsConfigurationDoneRequest"] is True, initialize
        dap.close()
        dap = Dap(port)  # a second client attaches as the README's does: breakpoints, then a stop
        (placed,) = dap.attach({remote: [line]}, justMyCode=False).values()
        assert placed[0]["verified"] is True, placed

        answered: dict = {}
        url = f"{outputs['urls'][API]}{SPECS[API].health.liveness_path}"
        request = threading.Thread(target=lambda: answered.update(body=get_json(url, timeout=60)), daemon=True)
        request.start()
        stopped = dap.event("stopped")
        assert stopped["body"]["reason"] == "breakpoint", stopped
        (top,) = dap.request("stackTrace", {"threadId": stopped["body"]["threadId"], "levels": 1})["stackFrames"]
        assert (top["source"]["path"], top["line"]) == (remote, line), top
        assert not answered, "the request answered while stopped at the breakpoint"
        dap.request("continue", {"threadId": stopped["body"]["threadId"]})
        request.join(30)
        assert answered.get("body", {}).get("status") == "ok", answered
        dap.request("disconnect", {"terminateDebuggee": False})
    finally:
        dap.close()
    # Detached, the backend serves as before.
    assert get_json(url)["status"] == "ok"


def test_3_the_node_inspector_is_the_next_server_process(project, outputs):
    port = debug_port(outputs, WEB)
    version = get_json(f"http://127.0.0.1:{port}/json/version")
    assert version["Browser"].startswith("node.js/v"), version
    targets = get_json(f"http://127.0.0.1:{port}/json/list")
    assert len(targets) == 1, targets
    # The process serving requests (Next's start-server), not the `next dev` command line.
    assert targets[0]["url"].endswith("/next/dist/server/lib/start-server.js"), targets
    assert targets[0]["webSocketDebuggerUrl"].startswith("ws://"), targets


def test_4_prometheus_scrapes_what_the_catalog_declares(project, outputs):
    api = f"{outputs['urls'][MONITOR]}/api/v1"

    def up() -> dict[str, str]:
        try:
            result = get_json(f"{api}/query?{urllib.parse.urlencode({'query': 'up'})}")["data"]["result"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return {}
        return {sample["metric"]["job"]: sample["value"][1] for sample in result}

    scraped = wait_until(lambda: (found := up()).get(API) == "1" and set(found) == SCRAPED and found, 90,
                         f"Prometheus reporting up == 1 for {API} and a target for each of {sorted(SCRAPED)}")  # fmt: skip
    assert scraped == {name: "1" for name in SCRAPED}, scraped
    targets = get_json(f"{api}/targets")["data"]["activeTargets"]
    assert {t["labels"]["service"]: t["scrapeUrl"] for t in targets} == {
        name: f"http://{name}:{SPECS[name].metrics_port}{SPECS[name].metrics.path}" for name in SCRAPED
    }
    # A metric of the backend's own, not only Prometheus' synthetic `up`.
    query = urllib.parse.urlencode({"query": "process_resident_memory_bytes{job=" + json.dumps(API) + "}"})
    result = get_json(f"{api}/query?{query}")
    assert result["data"]["result"], result


def test_5_down_purge_leaves_nothing_of_the_stack(project, outputs):
    driven = project.drive("down", "--purge", timeout=600)
    project.purged = True
    assert driven.returncode == 0, driven.output[-4000:]
    label = f"label=dockyard.dev/stack={project.stack}"
    assert docker("ps", "-aq", "--filter", label) == ""
    assert docker("volume", "ls", "-q", "--filter", label) == ""
