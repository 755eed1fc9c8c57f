"""Settings from the environment, secrets optionally from <NAME>_FILE."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import PostgresCluster, RedisServer

import pytest
from fastapi.testclient import TestClient
from todo_api.main import create_app
from todo_api.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.app_version == "0.0.0-dev"
    assert settings.log_level == "info"
    assert settings.cache_ttl_seconds == 30


def test_the_mapping_given_is_the_only_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process environment is read only when no mapping is given.
    monkeypatch.setenv("CACHE_TTL_SECONDS", "5")
    monkeypatch.setenv("LOG_LEVEL", "not-a-level")
    assert load_settings({}).cache_ttl_seconds == 30
    with pytest.raises(SettingsError, match="LOG_LEVEL: Input should be 'debug'"):
        load_settings()
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert (load_settings().cache_ttl_seconds, load_settings().log_level) == (5, "debug")


def test_plain_env() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql+psycopg://a@b/c", "LOG_LEVEL": "debug",
                              "CACHE_TTL_SECONDS": "5", "APP_VERSION": "9.9.9"})
    assert settings.database_url == "postgresql+psycopg://a@b/c"
    assert (settings.log_level, settings.cache_ttl_seconds, settings.app_version) == (
        "debug", 5, "9.9.9")


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "db"
    secret.write_text("postgresql+psycopg://u:p%40ss@db:5432/todo\n")
    redis_secret = tmp_path / "redis"
    redis_secret.write_text("redis://cache:6379/0")
    settings = load_settings({"DATABASE_URL_FILE": str(secret),
                              "REDIS_URL_FILE": str(redis_secret)})
    assert settings.database_url == "postgresql+psycopg://u:p%40ss@db:5432/todo"  # newline gone
    assert settings.redis_url == "redis://cache:6379/0"


def test_both_value_and_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "db"
    secret.write_text("x")
    with pytest.raises(SettingsError, match="set either DATABASE_URL or DATABASE_URL_FILE, not both"):
        load_settings({"DATABASE_URL": "y", "DATABASE_URL_FILE": str(secret)})


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError,
                       match=rf"REDIS_URL_FILE='{missing}' cannot be read: No such file"):
        load_settings({"REDIS_URL_FILE": str(missing)})


def test_directory_as_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL_FILE=.* cannot be read"):
        load_settings({"DATABASE_URL_FILE": str(tmp_path)})


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "db"
    secret.write_text("  \n")
    with pytest.raises(SettingsError, match="is empty; it must hold the DATABASE_URL value"):
        load_settings({"DATABASE_URL_FILE": str(secret)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CACHE_TTL_SECONDS": "0"}, "CACHE_TTL_SECONDS: Input should be greater than or equal to 1"),
        ({"CACHE_TTL_SECONDS": "soon"}, "CACHE_TTL_SECONDS: Input should be a valid integer"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: Input should be 'debug', 'info'"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_app_uses_secret_files(tmp_path: Path, postgres: PostgresCluster, redis_server: RedisServer, clean_state: None) -> None:
    (tmp_path / "db").write_text(postgres.url())
    (tmp_path / "redis").write_text(redis_server.url)
    settings = load_settings({"DATABASE_URL_FILE": str(tmp_path / "db"),
                              "REDIS_URL_FILE": str(tmp_path / "redis")})
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
        assert client.post("/api/todos", json={"title": "via file"}).status_code == 201
