"""Per-app resources, built once by create_app and kept on app.state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from todo_api.cache import TodoListCache
from todo_api.errors import DatabaseNotConfigured
from todo_api.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine | None
    cache: TodoListCache

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection whose statements commit together or not at all."""
        if self.engine is None:
            raise DatabaseNotConfigured("DATABASE_URL is not set")
        with self.engine.begin() as connection:
            yield connection
