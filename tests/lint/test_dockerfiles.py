"""Every Dockerfile in the repo passes hadolint (DL3057 on) and checkov's Dockerfile checks.

Ignores, where any, are written next to the line they concern, with the reason.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.harness import CATALOG
from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(
    path for path in PROJECT_DIR.glob("**/Dockerfile")
    if not any(part in {"node_modules", ".venv", ".venv-checkov"} or part.startswith(".venv") for part in path.parts)
)
CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"


def _hadolint() -> str | None:
    local = PROJECT_DIR / ".venv" / "bin" / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def _name(path: Path) -> str:
    return str(path.relative_to(PROJECT_DIR))


def test_the_built_services_dockerfiles_are_linted():
    """Every Dockerfile the program builds (each built service's build.context) is among those linted."""
    built = {
        _name((PROJECT_DIR / spec.build.context / "Dockerfile").resolve())
        for spec in CATALOG.services if spec.build is not None
    }
    names = {_name(path) for path in DOCKERFILES}
    assert DOCKERFILES, "no Dockerfile found to lint"
    assert built <= names, f"not linted: {sorted(built - names)}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_name)
def test_hadolint_is_clean(dockerfile):
    hadolint = _hadolint()
    require(hadolint is not None, "hadolint is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run(
        [hadolint, "--config", str(PROJECT_DIR / ".hadolint.yaml"), "--format", "json", str(dockerfile)],
        capture_output=True, text=True, timeout=60,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_name)
def test_checkov_dockerfile_checks_pass(dockerfile):
    require(CHECKOV.exists(), "checkov is not installed (make tools: .venv-checkov)")
    result = subprocess.run(
        [str(CHECKOV), "--framework", "dockerfile", "--file", str(dockerfile), "--output", "json", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=300,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in reports)
    assert failed == [], "\n".join(f"{c['check_id']} {c['check_name']} line {c.get('file_line_range')}" for c in failed)
    assert passed > 0, "checkov ran no check at all"
