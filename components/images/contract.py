"""What a built service's Dockerfile must offer (docs/services.md), checked before any build.

A missing stage or build argument would otherwise surface as a BuildKit error in the middle
of `pulumi up`; here it is a named problem of the catalog entry, with what to add.
"""

from __future__ import annotations

import re
from pathlib import Path

from components.config.catalog import Build, Catalog, ServiceSpec
from components.config.catalog_file import CatalogError
from components.config.text_file import TextFileError, read_utf8
from components.core.problems import OMITTED, Problem

DOCKERFILE = "Dockerfile"
# The build arguments the program passes (components/images/service_image.py): the Dockerfile declares the
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


def _outside(path: Path, root: Path) -> bool:
    """`path` leaves `root` once symbolic links are followed (the catalog's grammar already
    refuses '..' and absolute paths; a link inside the project can still point out)."""
    return not path.resolve().is_relative_to(root.resolve())


def _context_problem(build: Build, project_dir: Path) -> str | None:
    context = project_dir / build.context
    if _outside(context, project_dir):
        return "leads outside the project through a symbolic link: BuildKit would send what it finds there"
    if not (context / DOCKERFILE).is_file():
        return f"has no {DOCKERFILE} (the path is relative to the project root)"
    return None


def dockerfile_problems(spec: ServiceSpec, project_dir: Path) -> list[Problem]:
    """What the service's build context lacks (nothing for a service that is not built)."""
    if spec.build is None:
        return []
    key = f"services.{spec.name}.build"
    context = project_dir / spec.build.context
    if why := _context_problem(spec.build, project_dir):
        return [Problem(f"{key}.context", spec.build.context, why)]
    dockerfile = context / DOCKERFILE
    try:
        text = read_utf8(dockerfile)
    except OSError as error:
        return [Problem(f"{key}.context", spec.build.context, f"its {DOCKERFILE} cannot be read: {error.strerror}")]
    except TextFileError as error:
        # The file, named as the author finds it, then why: is not UTF-8 / is UTF-16 (…)
        return [Problem(f"{key}.context", spec.build.context, f"{spec.build.context}/{DOCKERFILE} {error}")]
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
    source = context / spec.build.source_dir
    if not source.is_dir():
        problems.append(Problem(f"{key}.sourceDir", spec.build.source_dir, f"is not a directory in {spec.build.context} (dev.hotReload bind-mounts it)"))
    elif _outside(source, context):
        problems.append(Problem(f"{key}.sourceDir", spec.build.source_dir, f"leads outside {spec.build.context} through a symbolic link: hot reload would mount what it finds there"))
    return problems


def build_problems(catalog: Catalog, project_dir: Path) -> list[Problem]:
    return [problem for spec in catalog.services for problem in dockerfile_problems(spec, project_dir)]


def require_build_contract(catalog: Catalog, project_dir: Path) -> None:
    """Raise one CatalogError naming every built service whose Dockerfile lacks a piece."""
    problems = build_problems(catalog, project_dir)
    if problems:
        raise CatalogError(catalog.source, problems)
