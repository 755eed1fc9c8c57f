"""Runtime settings from the environment.

Secrets (DATABASE_URL, REDIS_URL) may instead be given as `<NAME>_FILE`, the path of a file
holding the value (Docker/Kubernetes secrets). Setting both, or naming an unreadable or
empty file, is a configuration error that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SECRET_NAMES = ("DATABASE_URL", "REDIS_URL")
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class SettingsError(RuntimeError):
    """The environment does not describe a usable configuration."""


class Settings(BaseModel):
    # Filled by load_settings only: a plain model, so the mapping it is given is its only source
    # (pydantic-settings' BaseSettings also read the process environment behind it).
    model_config = ConfigDict(extra="forbid", frozen=True)

    # None means "not configured": the process still starts (so /livez works) and
    # /readyz reports what is missing.
    database_url: str | None = None
    redis_url: str | None = None
    app_version: str = "0.0.0-dev"
    log_level: LogLevel = "info"
    cache_ttl_seconds: int = Field(default=30, ge=1, le=86_400)
    # Short timeouts: a dead dependency must fail a probe quickly, not hang it.
    db_connect_timeout_seconds: int = Field(default=3, ge=1, le=60)
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    # A todo is a title of at most 200 characters: 64 KiB is generous, and a larger body is
    # refused (413) before it is read.
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=10 * 2**20)


def read_secret(name: str, environ: Mapping[str, str]) -> str | None:
    """Value of secret `name` from `name` or `name_FILE`, never both."""
    direct = environ.get(name)
    file_var = f"{name}_FILE"
    path = environ.get(file_var)
    if direct is not None and path is not None:
        raise SettingsError(f"set either {name} or {file_var}, not both")
    if path is None:
        return direct
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise SettingsError(f"{file_var}={path!r} cannot be read: {exc.strerror or exc}") from exc
    if not value:
        raise SettingsError(f"{file_var}={path!r} is empty; it must hold the {name} value")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ` (default: the process environment), secrets resolved."""
    env = os.environ if environ is None else environ
    secrets = {name.lower(): read_secret(name, env) for name in SECRET_NAMES}
    plain = {
        key.lower(): value
        for key, value in env.items()
        if key.lower() in Settings.model_fields and key.upper() not in SECRET_NAMES
    }
    try:
        # model_validate: the same checks as Settings(**...), with the mapping's str values typed as such.
        return Settings.model_validate({**plain, **secrets})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
