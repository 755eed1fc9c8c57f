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

from components.catalog import CATALOG, ServiceSpec, built_service_names, catalog_problems, enabled_catalog
from components.docker_env import container_plan
from components.kubernetes_env import kubernetes_problems
from components.settings import (
    NAMESPACE,
    SECRET_KEYS,
    Problem,
    Settings,
    SettingsError,
    distinct_problems,
    parse_settings,
)

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


def configured_values() -> dict[str, Any]:
    """Every `dockyard:` key the stack sets (so a misspelt key is reported, not ignored).

    Secrets are left out, except one written in plain text: the settings refuse that."""
    everything = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    secret = {*pulumi.runtime.get_config_secret_keys_env(), *(k for k in everything if pulumi.runtime.is_config_secret(k))}
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix):]: _decode(value)
        for key, value in everything.items()
        if key.startswith(prefix) and not (key[len(prefix):] in SECRET_KEYS and key in secret)
    }


def configured_secrets(config: pulumi.Config) -> dict[str, pulumi.Output[str]]:
    secrets = {}
    for key in SECRET_KEYS:
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


def _host_port_problems(settings: Settings, catalog: tuple[ServiceSpec, ...], project_dir: Path) -> list[Problem]:
    """Each published service needs its own 127.0.0.1 port; a hostPort on a service that is
    not published would be silently ignored."""
    if not settings.runs_docker:
        return []
    problems = []
    taken: dict[int, str] = {}
    for spec in enabled_catalog(catalog, settings):
        plan = container_plan(spec, settings, project_dir)
        chosen = settings.service(spec.name).host_port
        key = f"services.{spec.name}.hostPort"
        if chosen is not None and not plan.published:
            why = "it has no port" if spec.port is None else (
                "databases are published only with dev.publishDatabases: true" if spec.state else "it is not public"
            )
            problems.append(Problem(key, chosen, f"{spec.name} is not published on 127.0.0.1 ({why}): remove it"))
        for published in plan.published:
            other = taken.setdefault(published.external, spec.name)
            if other != spec.name:
                problems.append(Problem(key, published.external, (
                    f"127.0.0.1:{published.external} is already published by {other}:"
                    f" give each published service its own port with services.<name>.hostPort (1-65535)"
                )))
    return problems


def _unused_service_problems(settings: Settings, catalog: tuple[ServiceSpec, ...], secret_names: set[str]) -> list[Problem]:
    """A service replaced by its external secret (databaseUrl) would run, unused, beside it."""
    return [
        Problem(f"services.{spec.name}.enabled", True, (
            f"the secret {spec.external_secret} points the apps at an external {spec.name}, so this one would run unused:"
            f" set services.{spec.name}.enabled to false, or remove the secret (pulumi config rm {spec.external_secret})"
        ))
        for spec in catalog
        if spec.external_secret in secret_names and settings.service(spec.name).enabled
    ]


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
        problems += _host_port_problems(settings, catalog, project_dir)
        problems += _unused_service_problems(settings, catalog, secret_names)
        problems += kubernetes_problems(settings, catalog)
    problems = distinct_problems(problems)
    if problems:
        raise SettingsError(stack, problems)
    return settings
