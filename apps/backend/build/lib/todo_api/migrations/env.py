"""Alembic environment: the URL comes from todo_api.migrate (never from an ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from todo_api.models import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    url = config.attributes["database_url"]
    connectable = create_engine(url, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        # One transaction for the whole run: a failed migration leaves nothing half-done.
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
