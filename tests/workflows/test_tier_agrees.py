"""The PR and deploy workflows run the commands the real tier runs: every Pulumi operation of
the workflows (pulumi/actions with a `command`) is, as the plain `pulumi` arguments it stands
for, one the tier runs as typed against the local cluster (tests/real/test_cluster_stacks.py
WORKFLOW_COMMANDS), with the same policy pack and the same pack config; and the tier runs each."""

from __future__ import annotations

from typing import Any

from tests.real.test_cluster_stacks import WORKFLOW_COMMANDS
from tests.workflows.test_workflow_graph import all_jobs, pulumi_steps

# pulumi/actions runs `up` non-interactively: what `pulumi up --yes` does.
ACTION_FLAGS = {"up": ("--yes",), "preview": ()}


def cli_args(step: dict[str, Any], stack: str) -> tuple[str, ...]:
    """A pulumi/actions step as the `pulumi` arguments it stands for (less `--stack`)."""
    inputs = step["with"]
    args: tuple[str, ...] = (inputs["command"], *ACTION_FLAGS[inputs["command"]])
    if "policyPacks" in inputs:
        args += ("--policy-pack", inputs["policyPacks"])
    if "policyPackConfigs" in inputs:
        args += ("--policy-pack-config", inputs["policyPackConfigs"].replace("${{ matrix.stack }}", stack))
    return args


def workflow_commands(workflows: dict[str, dict[str, Any]]) -> dict[tuple[str, str], set[tuple[str, ...]]]:
    """(command, stack) -> the `pulumi` arguments the workflows run for it."""
    found: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for _, _, job in all_jobs(workflows):
        matrix_stacks = ((job.get("strategy") or {}).get("matrix") or {}).get("stack") or []
        for step in pulumi_steps(job):
            named = step["with"]["stack-name"]
            for stack in matrix_stacks if "matrix.stack" in named else [named]:
                found.setdefault((step["with"]["command"], stack), set()).add(cli_args(step, stack))
    return found


def test_every_workflow_command_is_one_the_tier_runs(workflows):
    for key, commands in workflow_commands(workflows).items():
        assert key in WORKFLOW_COMMANDS, f"the workflows run {key}; the real tier does not"
        assert commands == {WORKFLOW_COMMANDS[key]}, key


def test_the_tier_runs_nothing_the_workflows_do_not(workflows):
    assert set(WORKFLOW_COMMANDS) == set(workflow_commands(workflows))


def test_a_workflow_without_the_pack_is_told_apart():
    step = {"with": {"command": "up", "stack-name": "prod"}}
    assert cli_args(step, "prod") != WORKFLOW_COMMANDS["up", "prod"]
