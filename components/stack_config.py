"""Reads the stack's `dockyard:` config and validates it, with the catalog, in one pass.

Everything here happens before the first resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from components.catalog import CATALOG, ServiceSpec, built_service_names, catalog_problems
from components.kubernetes_env import kubernetes_problems
from components.settings import NAMESPACE, Problem, Settings, SettingsError, parse_settings

SECRET_KEYS = ("registryPassword", "databaseUrl")


def _decode(value: Any) -> Any:
    """Config values arrive as strings; structured ones as JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def configured_values() -> dict[str, Any]:
    """Every `dockyard:` key the stack sets (so a misspelt key is reported, not ignored)."""
    everything = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix):]: _decode(value)
        for key, value in everything.items()
        if key.startswith(prefix) and key[len(prefix):] not in SECRET_KEYS
    }


def configured_secrets(config: pulumi.Config) -> dict[str, pulumi.Output[str]]:
    secrets = {}
    for key in SECRET_KEYS:
        value = config.get_secret(key)
        if value is not None:
            secrets[key] = value
    return secrets


def _file_problems(settings: Settings, project_dir: Path) -> list[Problem]:
    bundle = settings.images.ca_bundle
    if bundle and not (project_dir / bundle).expanduser().is_file():
        return [Problem("images.caBundle", bundle, "must be a readable PEM file (an extra CA bundle for TLS-inspecting proxies)")]
    return []


def validate(
    stack: str,
    raw: Mapping[str, Any],
    secret_names: set[str],
    project_dir: Path,
    catalog: tuple[ServiceSpec, ...] = CATALOG,
) -> Settings:
    """Settings for `stack`, or one `SettingsError` listing every problem."""
    names = {spec.name for spec in catalog}
    settings, problems = parse_settings(stack, raw, names, built_service_names(catalog))
    problems += catalog_problems(catalog, settings, secret_names)
    if settings is not None:
        problems += _file_problems(settings, project_dir)
        problems += kubernetes_problems(settings, catalog)
    if problems:
        raise SettingsError(stack, problems)
    return settings
