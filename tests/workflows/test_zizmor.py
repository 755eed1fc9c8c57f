"""zizmor (GitHub Actions static analysis) finds nothing in .github/workflows, offline.

zizmor is pinned in tests/workflows/requirements.txt and lives in its own virtualenv
(.venv-zizmor) so its pins never meet the program's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tiers import require

from .conftest import PROJECT_DIR, WORKFLOW_DIR

PINNED_VERSION = "1.32.0"


def _zizmor() -> str | None:
    candidates = [
        os.environ.get("ZIZMOR"),
        str(PROJECT_DIR / ".venv-zizmor" / "bin" / "zizmor"),
        shutil.which("zizmor"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def zizmor() -> str:
    path = _zizmor()
    require(
        path is not None,
        "zizmor is not installed (python3 -m venv .venv-zizmor && .venv-zizmor/bin/pip install -r tests/workflows/requirements.txt)",
    )
    assert path is not None  # require() above skipped or failed the test otherwise
    return path


def test_zizmor_is_the_pinned_version(zizmor: str) -> None:
    out = subprocess.run(
        [zizmor, "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["zizmor", PINNED_VERSION]
    assert (
        f"zizmor=={PINNED_VERSION}"
        in (Path(__file__).parent / "requirements.txt").read_text()
    )


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_no_findings(zizmor: str, persona: str) -> None:
    result = subprocess.run(
        [
            zizmor,
            "--offline",
            "--no-progress",
            "--format",
            "json",
            "--persona",
            persona,
            str(WORKFLOW_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_DIR,
    )
    findings = json.loads(result.stdout or "[]")
    summary = [
        f"{f['ident']}: {f['desc']} at {f['locations'][0]['symbolic']['key']}:"
        f"{f['locations'][0]['concrete']['location']['start_point']['row'] + 1}"
        for f in findings
    ]
    assert findings == [], "\n".join(summary)
    assert result.returncode == 0, result.stderr


def test_zizmor_saw_every_workflow(zizmor: str) -> None:
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", str(WORKFLOW_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    audited = {
        line.split("completed ")[-1].strip()
        for line in result.stderr.splitlines()
        if "completed" in line
    }
    expected = {str(p.relative_to(PROJECT_DIR)) for p in WORKFLOW_DIR.glob("*.yml")}
    assert {Path(a).name for a in audited} >= {Path(e).name for e in expected}, (
        result.stderr
    )


def test_zizmor_does_flag_a_bad_workflow(zizmor: str, tmp_path: Path) -> None:
    """Guards the test above against a zizmor that silently audits nothing."""
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "name: bad\non: pull_request\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = subprocess.run(
        [zizmor, "--offline", "--no-progress", "--format", "json", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    idents = {f["ident"] for f in json.loads(result.stdout)}
    assert {"artipacked", "template-injection", "excessive-permissions"} <= idents, (
        idents
    )
    assert result.returncode != 0
