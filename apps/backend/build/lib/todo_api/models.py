"""The todos table, as SQLAlchemy Core sees it. The schema itself is owned by the Alembic
migrations; this describes it for queries (and for `alembic check`).

Core, not the ORM: one table read and written by single statements needs no identity map or
unit of work, and the server does not import `sqlalchemy.orm` (about 5 MiB of every process's
memory; README "Idle memory")."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, func

TITLE_MAX_LENGTH = 200

metadata = MetaData()

todos = Table(
    "todos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(TITLE_MAX_LENGTH), nullable=False),
    Column("completed", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set by every UPDATE statement of the table (Core applies `onupdate` to them).
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    ),
)
