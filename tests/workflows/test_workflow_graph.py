"""The CI/CD job graph, read from the workflow YAML: gates, ordering, permissions, pinning."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from .conftest import PROJECT_DIR, WORKFLOW_DIR

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$")
PULUMI_ACTION = "pulumi/actions@"
MAKE_TARGETS = [
    "lint",
    "typecheck",
    "security-lint",
    "test-unit",
    "test-policy",
    "test-render",
    "test-apps",
    "test-engine",
]
# Inputs of pulumi/actions (its action.yml); a misspelt input is silently ignored by Actions.
PULUMI_ACTION_INPUTS = {
    "command",
    "stack-name",
    "pulumi-version",
    "pulumi-version-file",
    "work-dir",
    "comment-on-pr",
    "comment-on-pr-number",
    "comment-on-summary",
    "github-token",
    "cloud-url",
    "secrets-provider",
    "parallel",
    "message",
    "config-map",
    "expect-no-changes",
    "diff",
    "replace",
    "target",
    "target-dependents",
    "policyPacks",
    "policyPackConfigs",
    "refresh",
    "upsert",
    "remove",
    "edit-pr-comment",
    "color",
    "exclude-protected",
    "plan",
    "suppress-outputs",
    "suppress-progress",
    "always-include-summary",
}
EXPECTED = {"pull-request.yml", "deploy.yml", "scan.yml", "bench.yml"}
# The only jobs that write to the repository: they push a tag (release candidate, release).
TAGGING_JOBS = {("deploy.yml", "release-candidate"), ("deploy.yml", "release")}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def all_jobs(
    workflows: dict[str, dict[str, Any]],
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, wf in workflows.items():
        for job_id, job in wf["jobs"].items():
            yield name, job_id, job


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps that run a Pulumi operation (a step without `command` only installs the CLI)."""
    return [
        s for s in steps(job) if str(s.get("uses", "")).startswith(PULUMI_ACTION) and "command" in s.get("with", {})
    ]


def test_the_three_workflows_exist(workflows: dict[str, dict[str, Any]]) -> None:
    assert EXPECTED <= set(workflows)


def test_every_uses_is_pinned_to_a_full_sha_with_a_version_comment() -> None:
    checked = 0
    for path in WORKFLOW_DIR.glob("*.yml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = USES_LINE.match(line)
            if not match:
                continue
            ref, comment = match.groups()
            where = f"{path.name}:{number}: {ref}"
            assert SHA_PIN.match(ref), f"{where} is not pinned to a 40-hex commit SHA"
            assert comment and re.match(r"#\s*v?\d+\.\d+\.\d+", comment), f"{where} lacks a '# vX.Y.Z' comment"
            checked += 1
    assert checked >= 20, "the uses: scanner found too few references; is the pattern still right?"


def test_one_sha_per_action_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOW_DIR.glob("*.yml"):
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match:
                action, _, sha = match.group(1).partition("@")
                pins.setdefault(action, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}


def test_top_level_permissions_are_empty_or_read_only(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, wf in workflows.items():
        assert "permissions" in wf, f"{name} has no top-level permissions"
        assert wf["permissions"] in ({}, {"contents": "read"}), f"{name}: {wf['permissions']}"


def test_no_job_without_explicit_permissions(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, job_id, job in all_jobs(workflows):
        assert isinstance(job.get("permissions"), dict), f"{name}:{job_id} has no explicit permissions"
        allowed = ("write",) if (name, job_id) in TAGGING_JOBS else (None, "read")
        assert job["permissions"].get("contents") in allowed, f"{name}:{job_id} can write contents"


def test_id_token_only_where_credentials_or_signing_are_needed(
    workflows: dict[str, dict[str, Any]],
) -> None:
    with_oidc = {
        (name, job_id) for name, job_id, job in all_jobs(workflows) if job["permissions"].get("id-token") == "write"
    }
    assert with_oidc == {
        ("pull-request.yml", "preview"),
        ("deploy.yml", "staging"),
        ("deploy.yml", "production"),
        ("scan.yml", "sign"),
    }


def test_checkout_never_persists_credentials(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, job_id, job in all_jobs(workflows):
        for step in steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, f"{name}:{job_id}"


def test_no_expression_is_expanded_inside_a_shell_script(
    workflows: dict[str, dict[str, Any]],
) -> None:
    """Template injection guard: values reach `run:` only through env."""
    for name, job_id, job in all_jobs(workflows):
        for step in steps(job):
            assert "${{" not in str(step.get("run", "")), f"{name}:{job_id}: {step.get('name') or step['run'][:40]}"


def test_no_dangerous_triggers(workflows: dict[str, dict[str, Any]]) -> None:
    for name, wf in workflows.items():
        triggers = (
            wf["on"]
            if isinstance(wf["on"], dict)
            else {t: None for t in ([wf["on"]] if isinstance(wf["on"], str) else wf["on"])}
        )
        assert not {"pull_request_target", "workflow_run"} & set(triggers), name


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml"])
def test_tests_job_runs_every_tier_that_needs_no_cluster(workflows: dict[str, dict[str, Any]], name: str) -> None:
    job = workflows[name]["jobs"]["tests"]
    assert job["strategy"]["matrix"]["target"] == MAKE_TARGETS
    run = [s for s in steps(job) if "run" in s]
    assert [s["run"] for s in run] == ['make "$TARGET"']
    assert run[0]["env"] == {"TARGET": "${{ matrix.target }}", "CI": "true"}


def test_pull_request_previews_staging_and_prod_with_the_pack_after_tests(
    workflows: dict[str, dict[str, Any]],
) -> None:
    wf = workflows["pull-request.yml"]
    assert set(wf["on"]) == {"pull_request"}
    assert wf["on"]["pull_request"]["branches"] == ["main", "release/**"]
    preview = wf["jobs"]["preview"]
    assert preview["needs"] == "tests"
    assert preview["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    (step,) = pulumi_steps(preview)
    inputs = step["with"]
    assert inputs["command"] == "preview"
    assert inputs["stack-name"] == "${{ matrix.stack }}"
    assert inputs["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"


def test_deploy_runs_tests_then_staging_then_protected_prod(
    workflows: dict[str, dict[str, Any]],
) -> None:
    wf = workflows["deploy.yml"]
    assert wf["on"]["push"] == {"branches": ["main", "release/**"]}
    jobs = wf["jobs"]
    assert set(jobs) == {"tests", "version", "release-candidate", "staging", "production", "release", "notify"}
    assert jobs["version"]["needs"] == "tests"
    assert jobs["staging"]["needs"] == "version"
    assert jobs["production"]["needs"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["staging"]["environment"] == "staging"
    stacks = {job_id: [s["with"] for s in pulumi_steps(jobs[job_id])] for job_id in ("staging", "production")}
    # The deploy, then its automatic rollback (the same `up` on the last good release's source).
    assert [(w["command"], w["stack-name"]) for w in stacks["staging"]] == [("up", "staging"), ("up", "staging")]
    assert [(w["command"], w["stack-name"]) for w in stacks["production"]] == [("up", "prod")]
    # prod promotes staging's digests: it neither builds nor logs in to push.
    prod_uses = {str(s.get("uses", "")).split("@")[0] for s in steps(jobs["production"])}
    assert not {"docker/setup-buildx-action", "docker/login-action"} & prod_uses


def test_each_stack_deploys_alone_and_never_cancels_a_running_up(
    workflows: dict[str, dict[str, Any]],
) -> None:
    jobs = workflows["deploy.yml"]["jobs"]
    groups = {}
    for job_id in ("staging", "production"):
        concurrency = jobs[job_id]["concurrency"]
        assert concurrency["cancel-in-progress"] is False, job_id
        assert "${{" not in concurrency["group"], f"{job_id}: one fixed group per stack, not per run"
        groups[job_id] = concurrency["group"]
    assert len(set(groups.values())) == 2, "staging and prod must not share a concurrency group"


def test_every_pulumi_step_runs_the_policy_pack_with_its_stack_config(
    workflows: dict[str, dict[str, Any]],
) -> None:
    seen = 0
    for name, job_id, job in all_jobs(workflows):
        for step in pulumi_steps(job):
            seen += 1
            inputs = step["with"]
            where = f"{name}:{job_id}"
            assert set(inputs) <= PULUMI_ACTION_INPUTS, f"{where}: unknown inputs {set(inputs) - PULUMI_ACTION_INPUTS}"
            assert inputs["policyPacks"] == "policy", where
            assert inputs["policyPackConfigs"] == f"policy/config/{inputs['stack-name']}.json", where
            assert inputs["command"] in ("preview", "up"), where
            stacks = job.get("strategy", {}).get("matrix", {}).get("stack") or [inputs["stack-name"]]
            for stack in stacks:
                assert (PROJECT_DIR / "policy" / "config" / f"{stack}.json").is_file(), f"{where}: {stack}"
            assert (PROJECT_DIR / "policy" / "PulumiPolicy.yaml").is_file()
    assert seen == 4  # preview (pull requests), staging's up and its rollback, prod's up


# The Pulumi CLI version, pinned once: the workflows install it, machine/toolchain/pulumi-tools.sh
# builds it for the tests, the README names it.
CLI_VERSION_FILE = ".pulumi.version"
PINNED_CLI_OUTPUT = "${{ steps.pulumi-cli.outputs.version }}"


def pinned_cli_version() -> str:
    return (PROJECT_DIR / CLI_VERSION_FILE).read_text().strip()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split("."))


def sdk_pin(requirements: str) -> str:
    return next(
        line.split("==")[1].strip()
        for line in (PROJECT_DIR / requirements).read_text().splitlines()
        if line.startswith("pulumi==")
    )


def test_every_pulumi_step_installs_the_one_pinned_cli_version(workflows: dict[str, dict[str, Any]]) -> None:
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", pinned_cli_version())
    seen = 0
    for name, job_id, job in all_jobs(workflows):
        job_steps = steps(job)
        for index, step in enumerate(job_steps):
            if not str(step.get("uses", "")).startswith(PULUMI_ACTION):
                continue
            seen += 1
            where = f"{name}:{job_id}: {step.get('name', step['uses'])}"
            given = step.get("with") or {}
            if "pulumi-version-file" in given:
                assert given["pulumi-version-file"] == CLI_VERSION_FILE and "pulumi-version" not in given, where
                continue
            # A step after a checkout of another revision reads the version read before it.
            assert given.get("pulumi-version") == PINNED_CLI_OUTPUT, f"{where}: pins its own version"
            (reader,) = [s for s in job_steps[:index] if s.get("id") == "pulumi-cli"]
            assert CLI_VERSION_FILE in reader["run"] and "GITHUB_OUTPUT" in reader["run"], where
    assert seen >= 7


def test_the_tests_build_the_cli_version_the_workflows_install() -> None:
    # pulumi-tools.sh reads the same file: its --print names the directory of that version's build.
    printed = subprocess.run(
        ["bash", str(PROJECT_DIR / "machine" / "toolchain" / "pulumi-tools.sh"), "--print"],
        capture_output=True, text=True, check=True, env={**os.environ, "DOCKYARD_TOOLS": "/nonexistent"},
    )  # fmt: skip
    assert printed.stdout.strip() == f"/nonexistent/pulumi-v{pinned_cli_version()}/bin"
    script = (PROJECT_DIR / "machine" / "toolchain" / "pulumi-tools.sh").read_text()
    assert CLI_VERSION_FILE in script and not re.search(r"PULUMI_VERSION=v?[0-9]", script)
    assert f"tested with CLI v{pinned_cli_version()}" in (PROJECT_DIR / "README.md").read_text()


@pytest.mark.parametrize("requirements", ["requirements.txt", "policy/requirements.txt"])
def test_the_sdk_pins_are_no_newer_than_the_cli(requirements: str) -> None:
    # An SDK newer than the CLI may ask for engine features the CLI lacks; an older one is served.
    assert _version(sdk_pin(requirements)) <= _version(pinned_cli_version()), requirements


def test_scan_gates_on_critical_cves_builds_sboms_and_signs_only_on_main(
    workflows: dict[str, dict[str, Any]],
) -> None:
    wf = workflows["scan.yml"]
    assert {"pull_request", "schedule"} <= set(wf["on"])
    jobs = wf["jobs"]
    lint_uses = [str(s.get("uses", "")) for s in steps(jobs["dockerfiles"])]
    assert any(u.startswith("hadolint/hadolint-action@") for u in lint_uses)
    assert any(
        "checkov" in str(s.get("run", "")) and "--framework dockerfile" in s["run"] for s in steps(jobs["dockerfiles"])
    )
    images = jobs["images"]
    assert images["strategy"]["matrix"]["service"] == ["backend", "frontend"]
    (trivy,) = [s for s in steps(images) if str(s.get("uses", "")).startswith("aquasecurity/trivy-action@")]
    assert str(trivy["with"]["exit-code"]) == "1" and "CRITICAL" in trivy["with"]["severity"]
    (sbom,) = [s for s in steps(images) if str(s.get("uses", "")).startswith("anchore/sbom-action@")]
    assert "${{ matrix.service }}" in sbom["with"]["output-file"]
    sign = jobs["sign"]
    assert sign["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert set(sign["needs"]) == {"dockerfiles", "images", "dependencies"}
    assert any(str(s.get("uses", "")).startswith("sigstore/cosign-installer@") for s in steps(sign))
    assert any("cosign sign --yes" in str(s.get("run", "")) for s in steps(sign))


def _stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]


def _step_index(steps: list[dict[str, Any]], predicate) -> int:
    return next(i for i, step in enumerate(steps) if predicate(step))


def test_staging_builds_with_the_builder_its_stack_names_and_sets_its_version(
    workflows: dict[str, dict[str, Any]],
) -> None:
    steps = workflows["deploy.yml"]["jobs"]["staging"]["steps"]
    builder = _stack_file("staging")["dockyard:images"]["builder"]
    buildx = steps[_step_index(steps, lambda s: "setup-buildx-action" in s.get("uses", ""))]
    assert buildx["with"]["name"] == builder and buildx["with"]["driver"] == "docker-container"
    version = _step_index(steps, lambda s: "--path images.tag" in s.get("run", ""))
    up = _step_index(steps, lambda s: s.get("with", {}).get("command") == "up")
    assert version < up


def test_every_cluster_step_writes_the_context_its_stack_names_first(
    workflows: dict[str, dict[str, Any]],
) -> None:
    checked = 0
    for name, job_id, job in all_jobs(workflows):
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            command = step.get("with", {}).get("command")
            if "pulumi/actions" not in step.get("uses", "") or command is None:
                continue
            stacks = job.get("strategy", {}).get("matrix", {}).get("stack") or [step["with"]["stack-name"]]
            writes = [s.get("run", "") for s in steps[:index] if "update-kubeconfig" in s.get("run", "")]
            assert writes, f"{name}:{job_id}: no kubeconfig before pulumi {command}"
            for stack in stacks:
                context = _stack_file(stack)["dockyard:kubernetes"]["context"]
                assert f"--alias {context}" in writes[0] or '--alias "$STACK"' in writes[0] and context == stack
            checked += 1
    assert checked == 4


def test_manual_deploy_chooses_staging_or_prod_and_prod_keeps_its_approval(
    workflows: dict[str, dict[str, Any]],
) -> None:
    wf = workflows["deploy.yml"]
    choice = wf["on"]["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice" and choice["options"] == ["staging", "prod"]
    assert choice["default"] == "staging" and choice["required"] is True
    jobs = wf["jobs"]
    # staging: main's pushes and every dispatch; a release branch's push deploys nothing
    assert jobs["staging"]["if"] == "github.ref == 'refs/heads/main' || github.event_name == 'workflow_dispatch'"
    # prod: main's pushes, or a dispatch that chose prod; always after staging and the approval
    assert jobs["production"]["if"] == "github.event_name == 'push' || inputs.environment == 'prod'"
    assert jobs["production"]["environment"] == "production" and jobs["production"]["needs"] == "staging"


def test_one_version_rule_tags_candidates_on_release_branches_and_releases_after_prod(
    workflows: dict[str, dict[str, Any]],
) -> None:
    jobs = workflows["deploy.yml"]["jobs"]
    version = jobs["version"]
    (checkout,) = [s for s in steps(version) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["fetch-depth"] == 0, "the rule counts the tags already pushed"
    assert any("python -m pipeline.release_version" in str(s.get("run", "")) for s in steps(version))
    assert set(version["outputs"]) == {"version", "tag", "image_tag", "kind"}
    rc, release = jobs["release-candidate"], jobs["release"]
    assert rc["if"] == "startsWith(github.ref, 'refs/heads/release/') && github.event_name == 'push'"
    assert rc["needs"] == "version"
    assert release["needs"] == ["version", "production"] and release["if"] == "needs.version.outputs.kind == 'release'"
    for job in (rc, release):
        assert job["permissions"] == {"contents": "write"}
        (tag,) = [s for s in steps(job) if "run" in s]
        assert tag["env"]["TAG"] == "${{ needs.version.outputs.tag }}"
        assert "refs/tags/$TAG" in tag["run"]
    staging_tag = [s for s in steps(jobs["staging"]) if "--path images.tag" in str(s.get("run", ""))]
    assert staging_tag[0]["env"]["IMAGE_TAG"] == "${{ needs.version.outputs.image_tag }}"


def test_every_deploy_run_notifies_the_webhook_from_a_secret(workflows: dict[str, dict[str, Any]]) -> None:
    notify = workflows["deploy.yml"]["jobs"]["notify"]
    assert notify["if"].startswith("always()")
    assert set(notify["needs"]) == {"tests", "version", "staging", "production"}
    (post,) = [s for s in steps(notify) if "run" in s]
    assert post["run"] == "python3 -m pipeline.notify"
    assert post["env"]["DEPLOY_WEBHOOK_URL"] == "${{ secrets.DEPLOY_WEBHOOK_URL }}"
    for job in ("tests", "staging", "production"):
        assert post["env"][f"{job.upper()}_RESULT"] == f"${{{{ needs.{job}.result }}}}"
    assert post["env"]["RELEASE_KIND"] == "${{ needs.version.outputs.kind }}"


def test_pull_requests_run_the_real_tier_with_the_official_cli(workflows: dict[str, dict[str, Any]]) -> None:
    real = workflows["pull-request.yml"]["jobs"]["real"]
    assert real["needs"] == "tests"
    installs = [s for s in steps(real) if str(s.get("uses", "")).startswith(PULUMI_ACTION)]
    assert len(installs) == 1 and "command" not in installs[0]["with"], "pulumi/actions installs the CLI only"
    runs = [s for s in steps(real) if "run" in s]
    assert "make test-real" in runs[-1]["run"] and runs[-1]["env"] == {"CI": "true"}
    setup = runs[0]["run"]
    for script in (
        "machine/provision/registry.sh",
        "machine/provision/buildkit.sh",
        "machine/local_cluster/cluster-tools.sh",
    ):
        assert script in setup and (PROJECT_DIR / script).is_file(), script


def test_the_gates_are_make_targets() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    for target in ("typecheck", "security-lint", "bench-check", "bench-record"):
        assert f"\n{target}:" in makefile, target
    # `make test` runs TIERS_IN_ORDER in one lane (the quick static gates first) beside the real
    # tier's ops lane; every tier is in one lane or the other.
    tiers_line = next(line for line in makefile.splitlines() if line.startswith("TIERS_IN_ORDER :="))
    tiers = tiers_line.split(":=")[1].split()
    assert tiers[:3] == ["lint", "typecheck", "security-lint"]
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "test-in-order test-real-ops" in test_recipe and "-j2" in test_recipe
    assert "$(TIERS_IN_ORDER)" in makefile.split("\ntest-in-order:", 1)[1].split("\n\n", 1)[0]
    for tier in ("test-unit", "test-policy", "test-render", "test-apps", "test-engine", "test-real-dev"):
        assert tier in tiers, tier
