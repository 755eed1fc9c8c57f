"""What a built service's Dockerfile must offer (docs/services.md), checked before any build.

A missing stage or build argument would otherwise surface as a BuildKit error in the middle
of `pulumi up`; here it is a named problem of the catalog entry, with what to add.
"""

from __future__ import annotations

import re
from pathlib import Path

from components.catalog import Catalog, ServiceSpec
from components.catalog_file import CatalogError
from components.settings import OMITTED, Problem

DOCKERFILE = "Dockerfile"
# The build arguments the program passes (components/images.py): the Dockerfile declares the
# base ones before its first FROM so every stage's FROM can use them.
BASE_ARGS = ("BASE_IMAGE", "RUNTIME_BASE_IMAGE")
_FROM = re.compile(r"^\s*FROM\s+\S+(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_ARG = re.compile(r"^\s*ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE | re.MULTILINE)


def _stages(text: str) -> set[str]:
    return {match["stage"].lower() for match in _FROM.finditer(text) if match["stage"]}


def _args_before_first_from(text: str) -> set[str]:
    first_from = _FROM.search(text)
    head = text[: first_from.start()] if first_from else text
    return {match["name"] for match in _ARG.finditer(head)}


def dockerfile_problems(spec: ServiceSpec, project_dir: Path) -> list[Problem]:
    """What the service's build context lacks (nothing for a service that is not built)."""
    if spec.build is None:
        return []
    key = f"services.{spec.name}.build"
    context = project_dir / spec.build.context
    dockerfile = context / DOCKERFILE
    if not dockerfile.is_file():
        return [Problem(f"{key}.context", spec.build.context, f"has no {DOCKERFILE} (the path is relative to the project root)")]
    text = dockerfile.read_text()
    problems = []
    stages = _stages(text)
    for field_name, stage in (("target", spec.build.target), ("devTarget", spec.build.dev_target)):
        if stage.lower() not in stages:
            problems.append(Problem(f"{key}.{field_name}", stage, (
                f"{spec.build.context}/{DOCKERFILE} has no stage `FROM … AS {stage}`; its stages: {', '.join(sorted(stages)) or 'none'}"
            )))
    declared = _args_before_first_from(text)
    missing = [arg for arg in BASE_ARGS if arg not in declared]
    if missing:
        problems.append(Problem(key, OMITTED, (
            f"{spec.build.context}/{DOCKERFILE} must declare {', '.join(f'ARG {arg}' for arg in missing)} before its"
            " first FROM (the program passes the bases as build arguments; see docs/services.md)"
        )))
    if not (context / spec.build.source_dir).is_dir():
        problems.append(Problem(f"{key}.sourceDir", spec.build.source_dir, f"is not a directory in {spec.build.context} (dev.hotReload bind-mounts it)"))
    return problems


def build_problems(catalog: Catalog, project_dir: Path) -> list[Problem]:
    return [problem for spec in catalog.services for problem in dockerfile_problems(spec, project_dir)]


def require_build_contract(catalog: Catalog, project_dir: Path) -> None:
    """Raise one CatalogError naming every built service whose Dockerfile lacks a piece."""
    problems = build_problems(catalog, project_dir)
    if problems:
        raise CatalogError(catalog.source, problems)
