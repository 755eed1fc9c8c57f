"""`validate`: one stack's settings checked, with the catalog, in one pass and one direction:
parse the settings (spec), check the files they name, compute the stack's view once, run the
catalog x settings rules over it (plan). Everything here happens before the first resource
is registered; every problem is reported at once, in one `SettingsError`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.config.catalog import Catalog, built_service_names, monitoring_service_names
from components.config.catalog_file import catalog_path, load_catalog
from components.config.settings import Settings, SettingsError
from components.config.settings_parser import parse_settings
from components.config.stack_config import ca_bundle_problem, secret_keys
from components.core.gc_pause import collection_paused
from components.core.problems import Problem, distinct_problems
from components.plan.namespaces import shared_namespace_problems
from components.plan.stack_rules import stack_problems
from components.plan.view import StackView


def _file_problems(settings: Settings, project_dir: Path) -> list[Problem]:
    bundle = settings.images.ca_bundle
    if not bundle:
        return []
    problem = ca_bundle_problem((project_dir / bundle).expanduser())
    return [Problem("images.caBundle", bundle, problem)] if problem else []


@collection_paused
def checked_view(
    stack: str,
    raw: Mapping[str, Any],
    secret_names: set[str],
    project_dir: Path,
    catalog: Catalog | None = None,
) -> StackView:
    """The stack's view (its settings, and what follows from them with the catalog, computed
    once for the rules and the resolver), or one `SettingsError` listing every problem.
    `catalog` defaults to the project's (catalog_path)."""
    catalog = catalog or load_catalog(catalog_path(project_dir))
    names = {spec.name for spec in catalog.services}
    settings, problems = parse_settings(
        stack,
        raw,
        names,
        built_service_names(catalog.services),
        secret_keys(catalog),
        monitoring_service_names(catalog.services),
    )
    view = None
    if settings is not None:
        view = StackView.of(catalog, settings)
        problems += _file_problems(settings, project_dir)
        problems += shared_namespace_problems(view, project_dir)
        problems += stack_problems(view, secret_names)
    problems = distinct_problems(problems)
    if problems or view is None:
        raise SettingsError(stack, problems)
    return view


def validate(
    stack: str,
    raw: Mapping[str, Any],
    secret_names: set[str],
    project_dir: Path,
    catalog: Catalog | None = None,
) -> Settings:
    """The stack's settings, checked as `checked_view` checks them."""
    return checked_view(stack, raw, secret_names, project_dir, catalog).settings
