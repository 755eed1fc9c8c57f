"""Reads the stack's `dockyard:` config and validates it, with the catalog, in one pass.

Everything here happens before the first resource is registered.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from components.core.gc_pause import collection_paused
from components.core.problems import Problem, distinct_problems
from components.plan.stack_rules import stack_problems
from components.spec.catalog import Catalog, built_service_names
from components.spec.catalog_file import catalog_path, load_catalog
from components.spec.settings import NAMESPACE, SECRET_KEYS, Settings, SettingsError
from components.spec.settings_parser import parse_settings

_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")


def _decode(value: Any) -> Any:
    """Config values arrive as strings; structured ones as JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def secret_keys(catalog: Catalog) -> tuple[str, ...]:
    """Every config key read as a secret: the program's own and the catalog's."""
    return (*SECRET_KEYS, *catalog.config_secret_keys())


def configured_values(catalog: Catalog) -> dict[str, Any]:
    """Every `dockyard:` key the stack sets (so a misspelt key is reported, not ignored).

    Secrets are left out, except one written in plain text: the settings refuse that."""
    everything = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    secret = {*pulumi.runtime.get_config_secret_keys_env(), *(k for k in everything if pulumi.runtime.is_config_secret(k))}
    prefix = f"{NAMESPACE}:"
    keys = secret_keys(catalog)
    return {
        key[len(prefix):]: _decode(value)
        for key, value in everything.items()
        if key.startswith(prefix) and not (key[len(prefix):] in keys and key in secret)
    }


def configured_secrets(config: pulumi.Config, catalog: Catalog) -> dict[str, pulumi.Output[str]]:
    secrets = {}
    for key in secret_keys(catalog):
        value = config.get_secret(key)
        if value is not None:
            secrets[key] = value
    return secrets


def ca_bundle_problem(path: Path) -> str | None:
    """Why the file is not a PEM bundle of CA certificates (None when it is)."""
    allowed = "must be a readable PEM file of CA certificates (-----BEGIN CERTIFICATE----- blocks), for a TLS-inspecting proxy"
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeError):
        return allowed
    others = set(_PEM_BLOCK.findall(text)) - {"CERTIFICATE"}
    if others:
        return f"holds {', '.join(sorted(others))}: a CA bundle holds certificates only"
    certificates = _PEM_CERTIFICATE.findall(text)
    if not certificates:
        return allowed
    try:
        # OpenSSL parses each certificate as X.509, as BuildKit's TLS client will.
        ssl.create_default_context(cadata="\n".join(certificates))
    except (ssl.SSLError, ValueError):
        return f"{allowed}; a certificate in it does not parse"
    return None


def _file_problems(settings: Settings, project_dir: Path) -> list[Problem]:
    bundle = settings.images.ca_bundle
    if not bundle:
        return []
    problem = ca_bundle_problem((project_dir / bundle).expanduser())
    return [Problem("images.caBundle", bundle, problem)] if problem else []


@collection_paused
def validate(
    stack: str,
    raw: Mapping[str, Any],
    secret_names: set[str],
    project_dir: Path,
    catalog: Catalog | None = None,
) -> Settings:
    """Settings for `stack`, or one `SettingsError` listing every problem. `catalog`
    defaults to the project's (catalog_path)."""
    catalog = catalog or load_catalog(catalog_path(project_dir))
    names = {spec.name for spec in catalog.services}
    settings, problems = parse_settings(stack, raw, names, built_service_names(catalog.services), secret_keys(catalog))
    if settings is not None:
        problems += _file_problems(settings, project_dir)
        problems += stack_problems(catalog, settings, secret_names)
    problems = distinct_problems(problems)
    if problems:
        raise SettingsError(stack, problems)
    return settings
