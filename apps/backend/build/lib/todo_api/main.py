"""ASGI entry point: `uvicorn todo_api.main:app`. Migrations are NOT run here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import FastAPI

from todo_api import api, db, probes
from todo_api.cache import TodoListCache, make_redis
from todo_api.errors import install_error_handlers
from todo_api.logging_setup import configure_logging
from todo_api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from todo_api.settings import Settings, load_settings
from todo_api.state import AppState

log = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    # Nothing here connects: the app starts (and /livez answers) with the database down.
    engine = db.make_engine(settings) if settings.database_url else None
    return AppState(
        settings=settings,
        engine=engine,
        cache=TodoListCache(
            make_redis(settings.redis_url, settings.redis_timeout_seconds),
            settings.cache_ttl_seconds,
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info(
            "starting",
            extra={
                "version": settings.app_version,
                "database_configured": state.engine is not None,
                "cache_enabled": state.cache.enabled,
            },
        )
        yield
        log.info("shutting down")
        if state.engine is not None:
            state.engine.dispose()
        state.cache.close()

    app = FastAPI(title="todo-api", version=settings.app_version, lifespan=lifespan)
    app.state.todo = state
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(probes.router)
    # Added last, outermost: the request id, log line and metrics cover the 413s too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


@cache
def _default_app() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    # `app` is built on first access (by uvicorn), not on import, so tests and tools can
    # import this module without a configured environment.
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
