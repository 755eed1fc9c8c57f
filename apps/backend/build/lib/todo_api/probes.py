"""/livez, /readyz, /health, /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from todo_api import db
from todo_api.state import AppState

router = APIRouter(tags=["probes"])

OK = "ok"
DISABLED = "disabled"


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"down: {type(exc).__name__}{': ' + text[:200] if text else ''}"


def check_database(state: AppState) -> str:
    if state.engine is None:
        return "down: not configured (DATABASE_URL is not set)"
    try:
        db.ping(state.engine)
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return _describe(exc)
    return OK


def check_redis(state: AppState) -> str:
    if not state.cache.enabled:
        return DISABLED  # caching switched off on purpose (no REDIS_URL): not a failure
    try:
        state.cache.ping()
    except Exception as exc:
        return _describe(exc)
    return OK


def run_checks(state: AppState) -> tuple[dict[str, str], list[str]]:
    checks = {"database": check_database(state), "redis": check_redis(state)}
    down = [name for name, result in checks.items() if result not in (OK, DISABLED)]
    return checks, down


@router.get("/livez")
def livez() -> dict[str, str]:
    # Process only: a dependency outage must not get the container restarted.
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    checks, down = run_checks(request.app.state.todo)
    if down:
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "down": down, "checks": checks},
        )
    return JSONResponse({"status": "ok", "down": [], "checks": checks})


@router.get("/health")
def health(request: Request) -> dict[str, object]:
    state: AppState = request.app.state.todo
    checks, down = run_checks(state)
    return {
        "status": "degraded" if down else "ok",
        "version": state.settings.app_version,
        "down": down,
        "checks": checks,
    }


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
