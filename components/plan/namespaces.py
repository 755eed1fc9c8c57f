"""One namespace per stack on a cluster: a stack whose namespace another stack of the project
also deploys to, on the same kubeconfig context, is refused before anything exists. Two stacks in
one namespace would replace each other's objects and delete them on `destroy`.

The other stacks are read from the project's checked-in stack files (`Pulumi.<stack>.yaml`), as
their own previews read them (defaults included: an unset namespace is `dockyard-<stack>`)."""

from __future__ import annotations

from pathlib import Path

from components.config.catalog import built_service_names, monitoring_service_names
from components.config.settings import Settings
from components.config.settings_parser import parse_settings
from components.config.stack_config import checked_in_stacks, secret_keys
from components.core.problems import Problem
from components.plan.view import StackView


def _on_a_cluster(settings: Settings) -> bool:
    """Applies to a cluster (rendered manifests go to a directory, not to a namespace)."""
    return settings.runs_kubernetes and not settings.kubernetes.render_yaml_to_directory


def _where(settings: Settings) -> tuple[str, str]:
    return settings.kubernetes.context, settings.kubernetes.namespace


def shared_namespace_problems(view: StackView, project_dir: Path) -> list[Problem]:
    settings, catalog = view.settings, view.catalog
    if not _on_a_cluster(settings):
        return []
    names = {spec.name for spec in catalog.services}
    built, monitors = built_service_names(catalog.services), monitoring_service_names(catalog.services)
    problems = []
    for other, raw in checked_in_stacks(project_dir).items():
        if other == settings.stack:
            continue
        theirs, _ = parse_settings(other, raw, names, built, secret_keys(catalog), monitors)
        if theirs is None or not _on_a_cluster(theirs) or _where(theirs) != _where(settings):
            continue
        context = settings.kubernetes.context or "the kubeconfig's current context"
        problems.append(
            Problem(
                "kubernetes.namespace",
                settings.kubernetes.namespace,
                f"is also where stack {other} deploys on {context} (Pulumi.{other}.yaml): two stacks in one "
                "namespace replace and delete each other's objects; give each stack a namespace of its own "
                "(unset, a stack's is dockyard-<stack>)",
            )
        )
    return problems
