"""The Dockerfile contract of built services (docs/services.md), checked before any build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.config.catalog_file import CatalogError
from components.images.contract import build_problems, dockerfile_problems, require_build_contract
from testing.harness import CATALOG, PROJECT_DIR

BUILT = [spec for spec in CATALOG.services if spec.build]


def test_every_built_service_meets_the_contract():
    assert BUILT, "the catalog builds at least one service"
    assert build_problems(CATALOG, PROJECT_DIR) == []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of each built service's build context, to break."""
    for spec in BUILT:
        shutil.copytree(PROJECT_DIR / spec.build.context, tmp_path / spec.build.context,
                        ignore=shutil.ignore_patterns("node_modules", ".next", ".venv"))
    return tmp_path


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_a_missing_stage_is_named_with_the_stages_there_are(spec, project):
    dockerfile = project / spec.build.context / "Dockerfile"
    text = dockerfile.read_text()
    dockerfile.write_text(text.replace(f"AS {spec.build.target}", "AS final"))
    (problem,) = dockerfile_problems(spec, project)
    assert problem.key == f"services.{spec.name}.build.target"
    assert f"no stage `FROM … AS {spec.build.target}`" in problem.allowed and "final" in problem.allowed


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_base_image_args_and_the_source_dir_are_required(spec, project):
    dockerfile = project / spec.build.context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("ARG RUNTIME_BASE_IMAGE", "ARG OTHER", 1))
    shutil.rmtree(project / spec.build.context / spec.build.source_dir)
    problems = {problem.key: problem.allowed for problem in dockerfile_problems(spec, project)}
    assert "ARG RUNTIME_BASE_IMAGE" in problems[f"services.{spec.name}.build"]
    assert f"services.{spec.name}.build.sourceDir" in problems


def test_a_context_without_a_dockerfile_stops_the_program_with_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match=r"services\.\S+\.build\.context = .*has no Dockerfile"):
        require_build_contract(CATALOG, tmp_path)


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_a_dockerfile_that_is_not_utf8_is_refused_naming_it_and_the_encoding(spec, project):
    dockerfile = project / spec.build.context / "Dockerfile"
    dockerfile.write_bytes(dockerfile.read_bytes() + "# café\n".encode("latin-1"))
    (problem,) = dockerfile_problems(spec, project)
    assert problem.key == f"services.{spec.name}.build.context"
    assert f"{spec.build.context}/Dockerfile is not UTF-8" in problem.allowed and "save it as UTF-8" in problem.allowed


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_a_dockerfile_in_utf16_or_utf32_is_refused_before_buildkit_fails_on_it(spec, project, encoding):
    # What an editor on Windows saves ("Unicode"): BuildKit's parser takes UTF-8 only.
    dockerfile = project / spec.build.context / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    mark = "\ufeff" if encoding.endswith("-be") else ""  # utf-16 and utf-32 write their own mark
    dockerfile.write_bytes((mark + text).encode(encoding))
    (problem,) = dockerfile_problems(spec, project)
    name = "UTF-32" if encoding == "utf-32" else "UTF-16"
    assert problem.key == f"services.{spec.name}.build.context"
    assert problem.allowed == (
        f"{spec.build.context}/Dockerfile is {name} (it starts with a {name} byte-order mark); "
        "BuildKit reads only UTF-8: save it as UTF-8"
    )


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_a_dockerfile_in_utf8_with_a_byte_order_mark_is_read(spec, project):
    # BuildKit drops a UTF-8 byte-order mark (its parser's discardBOM).
    dockerfile = project / spec.build.context / "Dockerfile"
    dockerfile.write_bytes(dockerfile.read_text(encoding="utf-8").encode("utf-8-sig"))
    assert dockerfile_problems(spec, project) == []


@pytest.mark.parametrize("spec", BUILT, ids=lambda spec: spec.name)
def test_a_context_or_source_dir_that_links_outside_is_refused(spec, project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    source = project / spec.build.context / spec.build.source_dir
    shutil.rmtree(source)
    source.symlink_to(outside, target_is_directory=True)
    assert "leads outside" in {p.key: p.allowed for p in dockerfile_problems(spec, project)}[f"services.{spec.name}.build.sourceDir"]
    context = project / spec.build.context
    shutil.copytree(context, outside / "ctx", symlinks=True)
    shutil.rmtree(context)
    context.symlink_to(outside / "ctx", target_is_directory=True)
    (problem,) = dockerfile_problems(spec, project)
    assert problem.key == f"services.{spec.name}.build.context" and "leads outside the project" in problem.allowed
