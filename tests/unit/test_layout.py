"""The layout shows the architecture (docs/architecture.md): components/ is organised by stage,
data flows one way (core -> spec -> plan -> build -> targets), and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testing.harness import PROJECT_DIR

COMPONENTS = PROJECT_DIR / "components"
STAGES = ("core", "spec", "plan", "build", "targets")  # each may import only those before it
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


@pytest.mark.parametrize("path", [p for p in MODULES if "targets" in p.parts], ids=name_of)
def test_one_target_does_not_import_another(path):
    parts = path.relative_to(COMPONENTS / "targets").parts
    if len(parts) == 1:  # targets/args.py, targets/host.py: shared by both
        return
    others = [
        m
        for m in component_imports(path)
        if m.startswith("components.targets.") and m.split(".")[2] not in (parts[0], "args", "host")
    ]
    assert others == []


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "rule.py"
    module.write_text("from components.targets.host import Host\nimport components.build.images\n")
    assert component_imports(module) == {"components.targets.host", "components.build.images"}


@pytest.mark.parametrize("path", [*MODULES, *sorted((PROJECT_DIR / "policy").rglob("*.py"))], ids=name_of)
def test_no_module_is_over_400_lines(path):
    if "venv" in path.parts:
        pytest.skip("the policy pack's own virtualenv")
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_main_stays_wiring_on_one_page():
    # one page: imports, then the stages in order, no functions or classes of its own
    tree = ast.parse((PROJECT_DIR / "__main__.py").read_text())
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert len((PROJECT_DIR / "__main__.py").read_text().splitlines()) <= 140
