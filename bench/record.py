"""Writing a benchmark's JSON under bench/results/: the rows, with the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent


def write_results(path: Path, key: str, rows: Any, **extra: Any) -> None:
    """`{"machine": …, **extra, key: rows}` to `path`, and a line saying where."""
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine, **extra, key: rows}, indent=2))
    print(f"wrote {path.relative_to(PROJECT_DIR)}")
