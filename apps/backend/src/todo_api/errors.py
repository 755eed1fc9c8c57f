"""Error responses: always JSON `{"detail": "<what is wrong>"}`; validation adds `errors`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

from todo_api.schemas import TodoCreate

log = logging.getLogger(__name__)


class DatabaseNotConfigured(RuntimeError):
    pass


def _field_name(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc)


def describe_validation_error(error: dict) -> dict[str, str]:
    """One validation problem as {field, message, type}, in words a client can act on."""
    field = _field_name(tuple(error.get("loc", ())))
    kind = error.get("type", "")
    message = error.get("msg", "invalid value")
    if kind == "extra_forbidden":
        allowed = ", ".join(TodoCreate.model_fields)
        message = f"unknown field; allowed fields: {allowed}"
    elif kind == "json_invalid":
        message = "request body is not valid JSON"
    elif kind == "missing" and field == "body":
        message = "request body is required (a JSON object)"
    return {"field": field, "message": message, "type": kind}


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [describe_validation_error(err) for err in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": summary, "errors": errors})


async def _database_not_configured(request: Request, exc: DatabaseNotConfigured) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": f"database not configured: {exc}"})


async def _database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
    log.error("database error", exc_info=exc)
    return JSONResponse(status_code=503, content={"detail": "database unavailable, try again"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DatabaseNotConfigured, _database_not_configured)
    # Connection-level failures are transient (503); other DB errors stay 500.
    app.add_exception_handler(OperationalError, _database_unavailable)
