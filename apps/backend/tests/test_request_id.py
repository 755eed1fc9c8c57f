"""X-Request-ID is honoured or generated, echoed, and in every JSON log line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from todo_api.logging_setup import JsonFormatter


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("todo_api.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_supplied_id_is_echoed_and_logged(client: TestClient, json_log: io.StringIO) -> None:
    response = client.get("/api/todos", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["x-request-id"] == "abc-123.x"
    [line] = [entry for entry in log_lines(json_log) if entry.get("path") == "/api/todos"]
    assert line["request_id"] == "abc-123.x"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["level"] == "info"


def test_missing_id_is_generated(client: TestClient) -> None:
    first = client.get("/livez").headers["x-request-id"]
    second = client.get("/livez").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "new\u00e9line"])
def test_unsafe_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/livez", headers=[(b"X-Request-ID", bad.encode("latin-1"))])
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_error_responses_carry_the_id(client: TestClient) -> None:
    response = client.get("/api/todos/999", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "err-1"
