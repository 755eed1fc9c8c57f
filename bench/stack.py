"""Benchmark: the dev stack with the real Pulumi CLI beside the same stack with `docker compose`.

Pulumi side: the driver (scripts/dockyard.py, what `make up|preview|down` run) with the real CLI
and providers (machine/toolchain/pulumi-tools.sh), on a trial stack (testing/trial_stack.py): a copy of the
checkout with a stack, image tag, ports and file backend of its own, on the air-gapped images.
Measured, in this order, each as one driver run (process start to exit, as a user waits):

  up cold                 no image of this run's tag exists; BuildKit's layer cache is what the
                          machine has (earlier builds of the same sources hit it)
  up no-change            again: the driver refreshes first (the default), then `--no-refresh`
  preview                 no changes (refreshes first, as `make preview`)
  up after a backend edit a unique edit of the copy's /livez response, so BuildKit cannot reuse
                          an earlier run's layer for it
  down                    destroy, data volumes and credentials kept

Compose side, in the same run once the Pulumi stack is down: the compose target's file of the
resolved dev stack (components/targets/compose, over components.plan.container.container_plan, so it
carries what the program sends: env, command, user, read-only root + tmpfs, caps dropped,
no-new-privileges, memory/CPU limits, the catalog's health-check timing, 127.0.0.1 ports, named
volumes, one network with aliases, health-gated depends_on), written into the temporary
directory only. Its built services have `build:` sections on the same contexts, Dockerfiles,
targets and build args, with a tag of their own so compose really builds (the BuildKit cache is
shared with the Pulumi run's builds). Measured: `up --wait` cold, `up --wait` no-change (compose
starts an exited one-shot again: its no-change reruns the migrations), `down`. At the end,
`down --purge` (Pulumi) and `down --volumes` (compose) remove the data. The driver's own cost
(`outputs`: start, tools check, one CLI call; untimed before the cold `up`) is a row of its own.

Goals (reported, not asserted): Pulumi `up` no-change <= compose's no-change; Pulumi cold within
1.2x of compose's cold. Prints a table and writes bench/results/stack.json with the machine.
Needs a Docker engine (machine/provision/dockerd.sh), the air-gapped images (machine/base_images/bases.sh), Go (the tools
are built when missing) and `docker compose` v2. One run: on a busy machine the figures are noisy.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.config.catalog_file import catalog_path, load_catalog
from components.plan.resolve import ResolvedStack, resolve
from components.plan.validate import validate
from components.targets.compose.render import compose_document, write_compose_file
from components.targets.docker.container_inputs import HEALTH_WAIT_SECONDS
from testing.trial_stack import PROJECT_DIR, Driven, Project, free_port, new_project, remove_leftovers

RESULTS = PROJECT_DIR / "bench" / "results" / "stack.json"
TOOLS_SCRIPT = PROJECT_DIR / "machine" / "toolchain" / "pulumi-tools.sh"
TOOLS_NEEDED = ("pulumi", "pulumi-resource-docker", "pulumi-resource-kubernetes")
LIVEZ_FILE = "apps/backend/src/todo_api/probes.py"  # the backend's /livez handler
LIVEZ_LINE = '    return {"status": "ok"}'
COLD_GOAL_RATIO = 1.2
DRIVER_TIMEOUT = 1800  # a cold build on 2 busy cores takes minutes


class BenchFailed(RuntimeError):
    """A step did not do what it must for its time to mean anything."""


def _run(args: list[str], timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # nosec B603 -- argv list, no shell: the benchmark's own docker/pulumi commands


def succeeded(driven: Driven, what: str) -> float:
    """The step's seconds; a failed step stops the benchmark with its output's tail."""
    if driven.returncode != 0:
        raise BenchFailed(f"{what} failed (exit {driven.returncode}):\n{driven.output[-4000:]}")
    return round(driven.seconds, 1)


# --- the tools and the machine -------------------------------------------------------------------


def tools_bin() -> Path:
    """The CLI and providers built here. Built first when missing, so no timed step includes a
    build of the tools (the driver would otherwise build them inside the first `up`)."""
    printed = _run(["bash", str(TOOLS_SCRIPT), "--print"]).stdout.strip()
    bin_dir = Path(printed)
    if not all((bin_dir / name).exists() for name in TOOLS_NEEDED):
        built = _run(["bash", str(TOOLS_SCRIPT)], timeout=3600)
        if built.returncode != 0:
            raise BenchFailed(f"machine/toolchain/pulumi-tools.sh failed:\n{built.stderr[-2000:]}")
    return bin_dir


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def cli_in_use(driver_output: str) -> str:
    """The CLI the driver ran (its first lines name it) and that CLI's version."""
    for line in driver_output.splitlines():
        if line.startswith("dockyard: Pulumi CLI "):
            path = line.removeprefix("dockyard: Pulumi CLI ").split()[0]
            return f"pulumi {_run([path, 'version']).stdout.strip()} ({path})"
    return "unknown"


def machine(cli: str, load_at_start: float) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "arch": platform.machine(),
        "docker": _run(
            ["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"]
        ).stdout.strip(),
        "compose": _run(["docker", "compose", "version", "--short"]).stdout.strip(),
        "pulumi_cli": cli,
        # Other work on the machine makes one run noisy: the load says how busy it was.
        "load_average_1m_at_start": load_at_start,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


# --- the stack as the program resolves it --------------------------------------------------------


def resolved_stack(project: Project) -> ResolvedStack:
    """What the program resolves for the trial stack: its Pulumi.<stack>.yaml, validated with the
    copy's catalog (dev needs no config secret)."""
    raw = {key.split(":", 1)[1]: value for key, value in project.config().items() if key.startswith("dockyard:")}
    catalog = load_catalog(catalog_path(project.dir))
    return resolve(catalog, validate(project.stack, raw, set(), project.dir, catalog))


def swap_accounted() -> bool:
    """As the program asks the engine: without swap accounting Docker keeps MemorySwap -1."""
    return _run(["docker", "info", "--format", "{{.SwapLimit}}"]).stdout.strip() == "true"


def livez_edit(project_dir: Path, marker: str) -> None:
    """One line of the backend changed, unique to the run: an edit an earlier run made would be
    a BuildKit cache hit, not a rebuild."""
    path = project_dir / LIVEZ_FILE
    text = path.read_text()
    if LIVEZ_LINE not in text:
        raise BenchFailed(f"{LIVEZ_FILE} no longer has the line the benchmark edits: {LIVEZ_LINE.strip()!r}")
    path.write_text(text.replace(LIVEZ_LINE, f'    return {{"status": "ok", "edit": "{marker}"}}', 1))


def livez_marker(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/livez", timeout=10) as response:  # nosec B310 -- http:// URL to the stack's own loopback port (its outputs)
            edit: str | None = json.loads(response.read()).get("edit")
            return edit
    except (OSError, ValueError):
        return None


# --- the Pulumi side ------------------------------------------------------------------------------


def pulumi_steps(project: Project, findings: list[str]) -> dict[str, dict[str, Any]]:
    """The Pulumi steps in order, each one driver run; what a step changed is kept beside its
    time (a no-change step that changes something is a defect, and its time means something else)."""
    steps: dict[str, dict[str, Any]] = {}

    def step(key: str, *args: str, command: str) -> Driven:
        driven = project.drive(*args, timeout=DRIVER_TIMEOUT)
        seconds = succeeded(driven, f"`{' '.join(args)}`")
        # What the step changed, read after the clock stopped: the stack's history for an update
        # (`pulumi stack history`), a plain `pulumi preview --expect-no-changes` for a preview.
        if command == "preview":
            unchanged = project.pulumi("preview", "--expect-no-changes").returncode == 0
            changes = {} if unchanged else {"changed": 1}  # a preview's counts are not recorded
        else:
            changes = project.last_changes()
        steps[key] = {"seconds": seconds, "changes": changes}
        return driven

    cold = step("up_cold", "up", command="up")
    for key, args in (("up_no_change", ("up",)), ("up_no_change_no_refresh", ("up", "--no-refresh"))):
        step(key, *args, command="up")
        if set(steps[key]["changes"]) - {"same"}:
            findings.append(f"`{' '.join(args)}` with no change changed resources: {steps[key]['changes']}")
    step("preview", "preview", command="preview")
    if set(steps["preview"]["changes"]) - {"same"}:
        findings.append(f"`preview` with no change shows changes: {steps['preview']['changes']}")
    marker = secrets.token_hex(4)
    livez_edit(project.dir, marker)
    step("up_backend_edit", "up", command="up")
    backend_url = project.outputs().get("urls", {}).get("backend")
    if backend_url and livez_marker(backend_url) != marker:
        findings.append("after the backend edit, the Pulumi stack's /livez does not serve the edit")
    step("down", "down", command="down")
    steps["cli"] = {"name": cli_in_use(cold.output)}
    return steps


# --- the compose file, generated from the resolved stack -----------------------------------------


def write_compose(stack: ResolvedStack, project: Project, compose: Compose) -> None:
    """The compose target's file (components/targets/compose) of the trial stack, on host ports of
    the run's own, as this engine accounts swap; its generated secrets are generated once into it."""
    ports = {name: free_port() for name, service in stack.services.items() if service.published_port}
    document = compose_document(
        stack, project.dir, compose.project, swap_accounted=swap_accounted(), host_ports=ports
    )
    write_compose_file(compose.file, document)


# --- the compose side -----------------------------------------------------------------------------


class Compose:
    """`docker compose` on the generated file, under a project name unique to the run."""

    def __init__(self, file: Path, project: str):
        self.file, self.project = file, project

    def run(self, *args: str, timeout: float = DRIVER_TIMEOUT) -> Driven:
        started = time.monotonic()
        proc = _run(["docker", "compose", "-p", self.project, "-f", str(self.file), *args], timeout=timeout)
        return Driven(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def up(self) -> Driven:
        return self.run("up", "--detach", "--wait", "--wait-timeout", str(HEALTH_WAIT_SECONDS))

    def states(self) -> dict[str, dict[str, Any]]:
        """service -> its container's state, health and exit code."""
        listed = self.run("ps", "--all", "--format", "json", timeout=120).output
        rows = [json.loads(line) for line in listed.splitlines() if line.startswith("{")]
        return {
            row["Service"]: {"state": row["State"], "health": row.get("Health", ""), "exit": row.get("ExitCode")}
            for row in rows
        }

    def images(self) -> list[str]:
        document = yaml.safe_load(self.file.read_text())
        return [service["image"] for service in document["services"].values() if "build" in service]


def compose_stack_ready(compose: Compose, stack: ResolvedStack) -> list[str]:
    """What is wrong with the compose stack after `up --wait` (nothing: it matches the catalog)."""
    states = compose.states()
    problems = []
    for name, service in stack.services.items():
        state = states.get(name)
        if state is None:
            problems.append(f"{name}: no container")
        elif service.spec.one_shot and (state["state"] != "exited" or state["exit"] != 0):
            problems.append(f"{name}: {state}")
        elif not service.spec.one_shot and state["state"] != "running":
            problems.append(f"{name}: {state}")
    return problems


def compose_steps(compose: Compose, stack: ResolvedStack) -> dict[str, dict[str, Any]]:
    steps = {"up_cold": {"seconds": succeeded(compose.up(), "compose up --wait (cold)")}}
    if problems := compose_stack_ready(compose, stack):
        raise BenchFailed(f"the compose stack is not what the catalog says after up --wait: {problems}")
    steps["up_no_change"] = {"seconds": succeeded(compose.up(), "compose up --wait (no change)")}
    steps["down"] = {"seconds": succeeded(compose.run("down"), "compose down")}
    return steps


# --- the run ----------------------------------------------------------------------------------------

# (row, pulumi step, compose step, what the row means)
ROWS = (
    (
        "up cold",
        "up_cold",
        "up_cold",
        "a new tag each; BuildKit's layer cache as the machine has it, shared (compose builds second)",
    ),
    (
        "up no-change (refresh first)",
        "up_no_change",
        "up_no_change",
        "the driver's default, as `make up`; compose reruns its one-shots on every up",
    ),
    ("up no-change --no-refresh", "up_no_change_no_refresh", "up_no_change", "compose: the same no-change up"),
    ("preview (no changes)", "preview", None, "refreshes first, as `make preview`"),
    ("up after one backend file changed", "up_backend_edit", None, "unique /livez edit of the copy"),
    ("down (data kept)", "down", "down", ""),
    ("down --purge / down --volumes", "purge", "purge", "after down: data volumes (Pulumi: and credentials)"),
    ("driver alone (`outputs`)", "driver_only", None, "the driver's fixed cost, part of every row above"),
)


def table_rows(pulumi: Mapping[str, Any], compose: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for label, p_key, c_key, note in ROWS:
        p = pulumi.get(p_key, {}).get("seconds")
        c = compose.get(c_key, {}).get("seconds") if c_key else None
        ratio = round(p / c, 2) if p is not None and c else None
        rows.append(
            {
                "operation": label,
                "pulumi_s": p,
                "compose_s": c,
                "ratio": ratio,
                "note": note,
                "pulumi_changes": pulumi.get(p_key, {}).get("changes"),
            }
        )
    return rows


def goals(pulumi: Mapping[str, Any], compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    no_change, cold = pulumi["up_no_change"]["seconds"], pulumi["up_cold"]["seconds"]
    c_no_change, c_cold = compose["up_no_change"]["seconds"], compose["up_cold"]["seconds"]
    return {
        "up_no_change_le_compose": {"pulumi_s": no_change, "compose_s": c_no_change, "met": no_change <= c_no_change},
        "up_no_change_no_refresh_le_compose": {
            "pulumi_s": pulumi["up_no_change_no_refresh"]["seconds"],
            "compose_s": c_no_change,
            "met": pulumi["up_no_change_no_refresh"]["seconds"] <= c_no_change,
        },
        "up_cold_within_1.2x_compose": {"pulumi_s": cold, "compose_s": c_cold, "met": cold <= COLD_GOAL_RATIO * c_cold},
    }


def print_table(rows: list[dict[str, Any]], result: Mapping[str, Any]) -> None:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value}"

    print(f"{'operation':<36}{'pulumi s':>10}{'compose s':>11}{'ratio':>8}  note")
    for row in rows:
        print(
            f"{row['operation']:<36}{cell(row['pulumi_s']):>10}{cell(row['compose_s']):>11}"
            f"{cell(row['ratio']):>8}  {row['note']}"
        )
    for name, goal in result["goals"].items():
        print(f"goal {name}: {'met' if goal['met'] else 'NOT met'} ({goal['pulumi_s']} s vs {goal['compose_s']} s)")
    m = result["machine"]
    print(
        f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Docker {m['docker']}, compose {m['compose']}, "
        f"{m['pulumi_cli']}; load (1 min) {m['load_average_1m_at_start']} at start, "
        f"{m['load_average_1m_at_end']} at end: one run, noisy when the machine is busy"
    )
    for finding in result["findings"]:
        print(f"finding: {finding}")


def cleanup(project: Project, compose: Compose | None, purged: bool) -> None:
    """Only what this run made: its compose project (containers, network, volumes, the images of
    its own tag) and the trial stack (`down --purge`, then anything left under its label)."""
    if compose is not None and compose.file.is_file():
        compose.run("down", "--volumes", "--remove-orphans", timeout=600)
        _run(["docker", "rmi", *compose.images()], timeout=300)
    if not purged:
        project.drive("down", "--purge", timeout=600)
    remove_leftovers(project.stack)


def run(tmp: Path) -> dict[str, Any]:
    load_at_start = round(os.getloadavg()[0], 2)
    tools_bin()
    project = new_project(tmp)
    findings: list[str] = []
    compose, purged = None, False
    try:
        # The stack exists and the driver has installed its plugins before the cold `up`. Its time
        # is the driver's own cost (start, tools check, one CLI call), in every command below.
        driver_only = succeeded(project.drive("outputs", timeout=600), "the driver's first run")
        pulumi = pulumi_steps(project, findings)
        pulumi["driver_only"] = {"seconds": driver_only}
        stack = resolved_stack(project)
        compose = Compose(tmp / "compose.yaml", f"dockyard-compose-{project.stack}")
        write_compose(stack, project, compose)
        compose_result = compose_steps(compose, stack)
        pulumi["purge"] = {"seconds": succeeded(project.drive("down", "--purge", timeout=600), "`down --purge`")}
        purged = True
        compose_result["purge"] = {"seconds": succeeded(compose.run("down", "--volumes"), "compose down --volumes")}
    finally:
        cleanup(project, compose, purged)
    result: dict[str, Any] = {
        "stack": project.stack,
        "machine": machine(pulumi.pop("cli")["name"], load_at_start),
        "pulumi": pulumi,
        "compose": compose_result,
        "findings": findings,
    }
    result["rows"] = table_rows(pulumi, compose_result)
    result["goals"] = goals(pulumi, compose_result)
    return result


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-stack-") as tmp:
        result = run(Path(tmp))
    print_table(result["rows"], result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS.relative_to(PROJECT_DIR)}")
    return result


if __name__ == "__main__":
    main()
