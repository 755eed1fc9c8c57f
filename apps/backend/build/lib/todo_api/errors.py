"""Error responses, one shape for every status: JSON `{"detail": "<what is wrong>",
"errors": [{"field", "message", "type"}]}`, `errors` empty when no field is at fault.

Bad input is a 4xx in words a client developer can act on: 415 for a body that is not JSON,
422 for JSON that does not parse or does not fit, 413 for a body over the limit. A 5xx means
an outage (503: the database is down, not configured or out of connections); anything else
is a bug, answered 500 in the same shape with the request id to quote.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import Response

from todo_api.schemas import TodoCreate

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)

JSON_MEDIA_TYPE = "application/json"
RETRY_AFTER_SECONDS = "1"  # a busy pool or a restarting database: worth retrying soon
MAX_LISTED_ERRORS = 20  # a body of a thousand unknown fields gets a readable answer


class DatabaseNotConfigured(RuntimeError):
    pass


def error_response(status: int, detail: str, errors: Iterable[dict[str, str]] = (), headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "errors": list(errors)}, headers=headers)


def body_too_large(detail: str) -> JSONResponse:
    return error_response(413, detail, [{"field": "body", "message": detail, "type": "too_large"}])


def _field_name(loc: tuple[object, ...]) -> str:
    # A key the client sent may hold half a surrogate pair, which JSON cannot encode: escaped.
    return ".".join(str(part) for part in loc).encode("utf-8", "backslashreplace").decode("utf-8")


# pydantic's wording for the common cases, in the words of this API's docs.
_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "json_invalid": "request body is not valid JSON",
    "string_unicode": "must be text: it contains half of a UTF-16 surrogate pair",
}


def describe_validation_error(error: dict[str, Any]) -> dict[str, str]:
    """One validation problem as {field, message, type}, in words a client can act on."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    field = _field_name(loc[:1] if kind == "json_invalid" else loc)
    message = _MESSAGES.get(kind, error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        message = f"unknown field; allowed fields: {', '.join(TodoCreate.model_fields)}"
    elif kind == "missing" and field == "body":
        message = "request body is required (a JSON object)"
    elif kind in ("model_attributes_type", "dict_type", "model_type") and field == "body":
        message = "request body must be a JSON object"
    elif kind == "greater_than_equal":
        message = f"must be at least {ctx.get('ge')}"
    elif kind == "less_than_equal":
        message = f"must be at most {ctx.get('le')}"
    return {"field": field, "message": message, "type": kind}


def _sends_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


def _not_json(request: Request, errors: list[dict[str, str]]) -> bool:
    """The body was not read as JSON because the request did not say it is JSON."""
    return not _sends_json(request) and any(error["field"] == "body" and error["type"] != "missing" for error in errors)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [describe_validation_error(err) for err in exc.errors()[:MAX_LISTED_ERRORS]]
    if _not_json(request, errors):
        return error_response(415, "send the body as JSON, with the header Content-Type: application/json", [{
            "field": "header.content-type", "message": f"must be {JSON_MEDIA_TYPE}", "type": "unsupported_media_type",
        }])
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return error_response(422, summary, errors)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's body parser gave up on bytes that are not JSON text: not UTF-8, nested
        # deeper than the decoder recurses, a number too long to convert.
        error = {"field": "body", "message": "request body is not valid JSON (UTF-8 text)", "type": "json_invalid"}
        return error_response(422, f"body: {error['message']}", [error])
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 413:
        return body_too_large(detail)
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


async def _database_not_configured(request: Request, exc: DatabaseNotConfigured) -> JSONResponse:
    return error_response(503, f"database not configured: {exc}")


async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database error", exc_info=exc)
    return error_response(503, "database unavailable, try again", headers={"Retry-After": RETRY_AFTER_SECONDS})


async def _database_busy(request: Request, exc: PoolTimeout) -> JSONResponse:
    log.warning("no database connection free in time", extra={"error": str(exc)})
    return error_response(503, "the service is busy, try again", headers={"Retry-After": RETRY_AFTER_SECONDS})


def _for(
    kind: type[E], handle: Callable[[Request, E], Awaitable[JSONResponse]]
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """`handle` as Starlette types a handler (any Exception): Starlette calls it only for `kind`,
    which this wrapper checks, so the handler itself keeps its precise exception type."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, kind):
            raise exc
        return await handle(request, exc)

    return handler


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _for(RequestValidationError, _validation_error))
    app.add_exception_handler(HTTPException, _for(HTTPException, _http_error))
    app.add_exception_handler(DatabaseNotConfigured, _for(DatabaseNotConfigured, _database_not_configured))
    # Connection-level failures and an exhausted pool are transient (503); other DB errors
    # are bugs (500, see middleware.py).
    app.add_exception_handler(OperationalError, _for(OperationalError, _database_unavailable))
    app.add_exception_handler(PoolTimeout, _for(PoolTimeout, _database_busy))
