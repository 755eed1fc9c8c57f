"""Shared loading of .github/workflows for the workflow tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = PROJECT_DIR / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOW_DIR / name).read_text())
    # YAML 1.1 reads the bare key `on` as boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOW_DIR.glob("*.yml"))}
