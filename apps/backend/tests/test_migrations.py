"""`python -m todo_api.migrate` up and down on an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import PostgresCluster

import os
import subprocess
import sys

import pytest


def migrate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "todo_api.migrate", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def tables(postgres: PostgresCluster, dbname: str) -> set[str]:
    with postgres.connect(dbname) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty_db(postgres: PostgresCluster) -> Iterator[str]:
    name = "migrate_empty"
    with postgres.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    yield name
    with postgres.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def test_upgrade_then_downgrade_on_empty_database(postgres: PostgresCluster, empty_db: str, tmp_path: Path) -> None:
    # The URL is given as a secret file, as a Kubernetes Job would.
    (tmp_path / "db").write_text(postgres.url(empty_db))
    env = {"DATABASE_URL_FILE": str(tmp_path / "db")}
    assert tables(postgres, empty_db) == set()

    up = migrate(env=env)
    assert up.returncode == 0, up.stderr
    assert "migrate: upgrade head done" in up.stdout
    assert tables(postgres, empty_db) == {"todos", "alembic_version"}
    with postgres.connect(empty_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        with pytest.raises(Exception, match="todos_title_not_blank"):
            conn.execute("INSERT INTO todos (title) VALUES ('   ')")

    again = migrate("upgrade", "head", env=env)  # idempotent
    assert again.returncode == 0, again.stderr

    down = migrate("downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert tables(postgres, empty_db) == {"alembic_version"}
    with postgres.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (0,)


def test_without_database_url_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    result = subprocess.run([sys.executable, "-m", "todo_api.migrate"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "DATABASE_URL (or DATABASE_URL_FILE) must be set" in result.stderr


def test_unknown_action_prints_usage() -> None:
    result = migrate("sideways", env={"DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/x"})
    assert result.returncode == 2
    assert "usage: python -m todo_api.migrate" in result.stderr
