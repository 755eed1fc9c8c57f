"""The SQLAlchemy engine (a connection pool) and the readiness ping."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from todo_api.settings import Settings


def make_engine(settings: Settings) -> Engine:
    if not settings.database_url:
        raise ValueError("DATABASE_URL is not set")
    return create_engine(
        settings.database_url,
        pool_pre_ping=True,  # survive a database restart without 500s on stale connections
        pool_size=5,
        max_overflow=5,
        pool_timeout=5,
        connect_args={"connect_timeout": settings.db_connect_timeout_seconds},
    )


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
