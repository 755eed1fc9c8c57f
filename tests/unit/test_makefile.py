"""The everyday commands: `make help` lists every target, and `make up`/`preview`/`down`
check the Pulumi CLI and the Docker engine before installing or running anything.

The checks run against stand-in `pulumi` and `docker` commands on PATH (no engine needed).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.harness import PROJECT_DIR

MAKEFILE = PROJECT_DIR / "Makefile"
PREFLIGHT = PROJECT_DIR / "scripts" / "preflight.sh"
TESTED_PULUMI = re.search(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("bash") is None, reason="needs make and bash")


def phony_targets() -> set[str]:
    text = MAKEFILE.read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^\.PHONY:(.*)$", text, re.M)
    return set(line.split())


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_make_help_lists_every_target_with_a_line():
    listed = dict(re.findall(r"^  make (\S+)\s+(.+)$", make("help").stdout, re.M))
    assert set(listed) == phony_targets()
    for target in ("up", "preview", "down", "logs", "ps", "urls", "test", "lint", "test-unit"):
        assert listed[target].strip(), target


def test_the_readme_targets_exist():
    readme = (PROJECT_DIR / "README.md").read_text()
    mentioned = set(re.findall(r"`make ([a-z-]+)", readme))
    assert mentioned and mentioned <= phony_targets(), mentioned - phony_targets()


@pytest.mark.parametrize("target", ["up", "preview", "down"])
def test_the_checks_come_before_anything_else(target):
    first = make("-n", target).stdout.splitlines()[0]
    assert first == "scripts/preflight.sh --docker"
    assert make("-n", target, "STACK=prod").stdout.splitlines()[0] == "scripts/preflight.sh"


@pytest.mark.parametrize(("target", "driven"), [
    ("up", "scripts/dockyard.py up --stack dev"),
    ("preview", "scripts/dockyard.py preview --stack staging --policy-pack"),
    ("down", "scripts/dockyard.py down --stack dev"),
])
def test_the_main_commands_go_through_the_driver(target, driven):
    stack = "STACK=staging" if "staging" in driven else "STACK=dev"
    assert make("-n", target, stack).stdout.rstrip().splitlines()[-1].endswith(driven)


def test_down_keeps_volumes_unless_purged():
    assert "--purge" not in make("-n", "down").stdout
    assert make("-n", "down", "purge=1").stdout.rstrip().endswith("scripts/dockyard.py down --stack dev --purge")


def test_env_gives_plain_pulumi_commands_the_backend_passphrase_and_tools(monkeypatch, capsys):
    assert make("-n", "env").stdout.rstrip().splitlines()[-1].endswith("scripts/dockyard.py env")
    driver = load_driver()
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///tmp/state dir")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    tools = driver.tooling.Tools(Path("/opt/t/bin/pulumi"), {"PULUMI_HOME": "/h", "PATH": "/opt/t/bin:/usr/bin"})
    driver.env(tools)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "export PULUMI_BACKEND_URL='file:///tmp/state dir'",
        "export PULUMI_CONFIG_PASSPHRASE=''",
        "export PULUMI_HOME=/h",
        "export PATH=/opt/t/bin:/usr/bin",
    ]


def load_driver():
    """scripts/dockyard.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("dockyard_driver", PROJECT_DIR / "scripts" / "dockyard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_driver_passes_the_pack_and_its_stack_config_as_the_workflows_do():
    driver = load_driver()
    parsed = driver.parse_args(["preview", "--policy-pack"])
    assert driver.policy_args("staging", parsed) == [
        "--policy-pack", "policy", "--policy-pack-config", "policy/config/staging.json"]  # fmt: skip
    assert driver.policy_args("nosuchstack", parsed) == ["--policy-pack", "policy"]
    given = driver.parse_args(["up", "--policy-pack", "--policy-config", "my.json"])
    assert driver.policy_args("dev", given)[-1] == "my.json"
    assert driver.policy_args("dev", driver.parse_args(["up"])) == []
