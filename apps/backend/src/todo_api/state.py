"""Per-app resources, built once by create_app and kept on app.state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from todo_api.cache import TodoListCache
from todo_api.errors import DatabaseNotConfigured
from todo_api.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine | None
    sessions: sessionmaker[Session] | None
    cache: TodoListCache

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all."""
        if self.sessions is None:
            raise DatabaseNotConfigured("DATABASE_URL is not set")
        with self.sessions.begin() as session:
            yield session
