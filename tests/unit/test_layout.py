"""The layout shows the architecture (docs/architecture.md): components/ is organised by stage,
data flows one way (core -> config -> plan -> images -> targets), and modules stay small."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from testing.harness import PROJECT_DIR

COMPONENTS = PROJECT_DIR / "components"
STAGES = ("core", "config", "plan", "images", "targets")  # each may import only those before it
MAX_LINES = 400
MODULES = sorted(COMPONENTS.rglob("*.py"))


def stage_of(module: str) -> str:
    """`components.plan.view` -> `plan`."""
    return module.split(".")[1]


def component_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("components.")}
    return found


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts)


def test_every_module_sits_in_a_stage():
    loose = [name_of(p) for p in MODULES if len(p.relative_to(COMPONENTS).parts) == 1 and p.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_a_stage_imports_only_the_stages_before_it(path):
    own = STAGES.index(stage_of(name_of(path))) if path.parent != COMPONENTS else len(STAGES)
    upward = sorted(m for m in component_imports(path) if STAGES.index(stage_of(m)) > own)
    assert upward == [], f"{name_of(path)} ({STAGES[own]}) imports a later stage"


TARGETS = COMPONENTS / "targets"
# Modules directly under targets/ (args.py, host.py) are shared by every target, so they import none.
SHARED = {p.stem for p in TARGETS.glob("*.py")} - {"__init__"}


def targets_imported(path: Path) -> set[str]:
    """What `path` imports from components/targets/, by the folder or module right under it:
    `from components.targets.docker.engine import X` -> docker, `from components.targets import host` -> host."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "components.targets":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components.targets."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("components.targets.")}
    return found


def foreign_targets(path: Path, imported: set[str]) -> list[str]:
    """Those of `imported` (by `path`) that are another target: a target's folder may import itself
    and the shared modules; a shared module may import only the other shared modules."""
    parts = path.relative_to(TARGETS).parts
    own = {parts[0]} if len(parts) > 1 else set()
    return sorted(imported - own - SHARED)


@pytest.mark.parametrize("path", [p for p in MODULES if TARGETS in p.parents], ids=name_of)
def test_one_target_does_not_import_another(path):
    assert foreign_targets(path, targets_imported(path)) == []


def test_the_target_checker_sees_a_shared_module_import_a_target(tmp_path):
    module = tmp_path / "rule.py"
    module.write_text("from components.targets.docker.engine import DockerEngine\nfrom components.targets import host\n")
    imported = targets_imported(module)
    assert imported == {"docker", "host"}
    assert foreign_targets(TARGETS / "host.py", imported) == ["docker"]
    assert foreign_targets(TARGETS / "kubernetes" / "preflight.py", imported) == ["docker"]
    assert foreign_targets(TARGETS / "docker" / "preflight.py", imported) == []


POLICY_MODULES = sorted(p for p in (PROJECT_DIR / "policy").rglob("*.py") if "venv" not in p.parts)
# Everything that is the program, its tools and its tests (not virtualenvs, caches, node_modules,
# nor the benchmarks' results, which runs write and git ignores on purpose).
PROGRAM_FILES = sorted(
    p
    for folder in ("components", "policy", "scripts", "machine", "testing", "tests", "bench")
    for p in (PROJECT_DIR / folder).rglob("*")
    if p.is_file()
    and not {"venv", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache"} & set(p.relative_to(PROJECT_DIR).parts)
    and p.parent != PROJECT_DIR / "bench" / "results"
)


def git_ignored(paths: list[Path]) -> list[str]:
    """Those of `paths` (relative to the project) that .gitignore hides from git and ruff."""
    listed = "\n".join(str(p.relative_to(PROJECT_DIR)) for p in paths)
    done = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=PROJECT_DIR, input=listed,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr  # 1: none ignored
    return done.stdout.split()


def test_no_program_file_is_git_ignored():
    assert PROGRAM_FILES and git_ignored(PROGRAM_FILES) == []


def test_the_ignore_check_sees_an_ignored_file():
    assert git_ignored([PROJECT_DIR / "build" / "x.py", PROJECT_DIR / "components" / "images" / "x.py"]) == ["build/x.py"]


@pytest.mark.parametrize("path", [*MODULES, *POLICY_MODULES], ids=name_of)
def test_no_module_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_main_stays_wiring_on_one_page():
    # one page: imports, then the stages in order, no functions or classes of its own
    tree = ast.parse((PROJECT_DIR / "__main__.py").read_text())
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert len((PROJECT_DIR / "__main__.py").read_text().splitlines()) <= 140
