"""Plain ASGI middleware: request id + access log + metrics (and the JSON 500 of a bug), and
the request body limit."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_api.errors import body_too_large, error_response
from todo_api.logging_setup import request_id_var
from todo_api.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger("todo_api.access")
error_log = logging.getLogger("todo_api.errors")

REQUEST_ID_HEADER = "x-request-id"
# A client-supplied id is honoured only if it is safe to log and echo.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def pick_request_id(supplied: str | None) -> str:
    if supplied and _VALID_REQUEST_ID.match(supplied):
        return supplied
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    # Unmatched paths share one label so scanners cannot blow up metric cardinality.
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        supplied = headers.get(REQUEST_ID_HEADER.encode())
        request_id = pick_request_id(supplied.decode("latin-1") if supplied else None)
        token = request_id_var.set(request_id)
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug: answered here, in the API's error shape and with the request id (the
            # server's own 500 would be plain text without it), then raised for the log.
            error_log.exception("unhandled error")
            if not started:
                response = error_response(500, f"internal error; quote request id {request_id} when reporting it")
                await response(scope, receive, send_with_id)
            raise
        finally:
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses a request body over `max_bytes` with 413: by its Content-Length before any of
    it is read, or, sent without one (chunked), as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await body_too_large(self._too_large())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read: the error handlers answer it.
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before this runs
    return None
