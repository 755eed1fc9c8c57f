"""The stack's `dockyard:` config as people wrote it: its values (secrets apart, read as
Pulumi secrets), and the check of the one file a setting names (images.caBundle).
plan/validate.py checks the whole."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.config.catalog import Catalog
from components.config.settings import NAMESPACE, SECRET_KEYS

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


def configured_keys() -> list[str]:
    """Every key the stack sets in the `dockyard:` namespace, without the namespace.

    pulumi.Config reads a named key only, and a misspelt key must be reported, not ignored:
    listing the keys is the one read of the SDK's own config store (the config the engine
    passed, or PULUMI_CONFIG under a language host)."""
    everything = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return [key[len(prefix) :] for key in everything if key.startswith(prefix)]


def configured_values(catalog: Catalog) -> dict[str, Any]:
    """Every `dockyard:` key the stack sets, read through pulumi.Config.

    Secrets are left out, except one written in plain text: the settings refuse that."""
    config = pulumi.Config(NAMESPACE)
    secrets = set(secret_keys(catalog))
    return {key: _decode(config.get(key)) for key in configured_keys() if not (key in secrets and _is_secret(key))}


def _is_secret(key: str) -> bool:
    full_key = f"{NAMESPACE}:{key}"
    return pulumi.runtime.is_config_secret(full_key) or full_key in pulumi.runtime.get_config_secret_keys_env()


def configured_secrets(config: pulumi.Config, catalog: Catalog) -> dict[str, pulumi.Output[str]]:
    secrets = {}
    for key in secret_keys(catalog):
        value = config.get_secret(key)
        if value is not None:
            secrets[key] = value
    return secrets


STACK_FILE_PREFIX, STACK_FILE_SUFFIX = "Pulumi.", ".yaml"


def checked_in_stacks(project_dir: Path) -> dict[str, dict[str, Any]]:
    """Every stack file of the project (`Pulumi.<stack>.yaml`): stack -> its `dockyard:` config as
    written there (keys without the namespace; encrypted values left as they are). A file that
    does not read as YAML is left out: that stack's own preview says what is wrong with it."""
    stacks = {}
    for path in sorted(project_dir.glob(f"{STACK_FILE_PREFIX}*{STACK_FILE_SUFFIX}")):
        stack = path.name[len(STACK_FILE_PREFIX) : -len(STACK_FILE_SUFFIX)]
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeError, yaml.YAMLError):
            continue
        config = document.get("config") if isinstance(document, dict) else None
        if not stack or not isinstance(config, dict):
            continue
        prefix = f"{NAMESPACE}:"
        stacks[stack] = {key[len(prefix) :]: value for key, value in config.items() if str(key).startswith(prefix)}
    return stacks


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
