"""Bad input never gets a 5xx: every refusal is a 4xx in one JSON shape, `{"detail": str,
"errors": [{"field", "message", "type"}]}`, against the real PostgreSQL and Redis.

Classes: what a title may be (NUL, surrogates, control and invisible characters), the body
size limit (413 before the body is read), bodies that are not JSON or not an object, and
a seeded fuzz of bodies, paths and queries for anything that slips through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from todo_api.settings import Settings

if TYPE_CHECKING:
    import httpx2 as httpx
    from conftest import UvicornServer

import http.client
import json
import random

import pytest
from fastapi.testclient import TestClient
from todo_api.models import TITLE_MAX_LENGTH

JSON = {"content-type": "application/json"}


def assert_error_shape(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """The one error shape, and a 4xx (or the given status)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    for error in body["errors"]:
        assert set(error) == {"field", "message", "type"} and all(isinstance(v, str) for v in error.values())
    if status is not None:
        assert response.status_code == status, body
    else:
        assert 400 <= response.status_code < 500, (response.status_code, body)
    return body


def raw_post(client: TestClient, body: bytes | Iterator[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/api/todos", content=body, headers=JSON if headers is None else headers)


# --- what a title may be ------------------------------------------------------------------------

REFUSED_TITLES = {
    "NUL": ("a\x00b", "title_control_character"),
    "newline": ("two\nlines", "title_control_character"),
    "tab": ("a\tb", "title_control_character"),
    "DEL": ("a\x7fb", "title_control_character"),
    "C1 control": ("a\x85b", "title_control_character"),
    "zero-width space only": ("\u200b\u200b", "title_invisible"),
    "zero-width joiner and BOM only": ("\u200d\ufeff", "title_invisible"),
    "combining mark only": ("\u0301", "title_invisible"),
    "no-break spaces only": ("\u00a0\u3000", "title_empty"),
    "too long": ("x" * (TITLE_MAX_LENGTH + 1), "title_too_long"),
}


@pytest.mark.parametrize("case", list(REFUSED_TITLES))
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_title_that_is_not_one_line_of_visible_text_is_a_422(client: TestClient, case: str, method: str) -> None:
    title, kind = REFUSED_TITLES[case]
    url = "/api/todos"
    if method == "PATCH":
        url = f"/api/todos/{client.post(url, json={'title': 'ok'}).json()['id']}"
    body = assert_error_shape(client.request(method, url, json={"title": title}), 422)
    assert [(e["field"], e["type"]) for e in body["errors"]] == [("body.title", kind)]


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udc00b"])
def test_an_unpaired_surrogate_is_a_422_not_a_500(client: TestClient, escape: str) -> None:
    # JSON may write one as an escape; PostgreSQL's UTF-8 cannot hold it.
    body = assert_error_shape(raw_post(client, f'{{"title": "{escape}"}}'.encode()), 422)
    assert body["errors"][0]["type"] == "title_surrogate"
    assert client.get("/api/todos").json() == []


@pytest.mark.parametrize("title", ["buy milk", "😀", "👩‍💻 review", "e\u0301t\u00e9", "日本語", "\u200bzero-width inside", "x" * TITLE_MAX_LENGTH])
def test_visible_text_in_any_script_is_a_title(client: TestClient, title: str) -> None:
    created = client.post("/api/todos", json={"title": title})
    assert created.status_code == 201, created.text
    assert client.get(f"/api/todos/{created.json()['id']}").json()["title"] == title


def test_a_surrogate_in_a_field_name_is_a_422(client: TestClient) -> None:
    body = assert_error_shape(raw_post(client, b'{"title": "ok", "\\ud800": 1}'), 422)
    assert body["errors"][0]["type"] == "string_unicode"


# --- size ------------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413(client: TestClient, settings: Settings) -> None:
    big = json.dumps({"title": "x" * (settings.max_body_bytes + 1)}).encode()
    body = assert_error_shape(raw_post(client, big), 413)
    assert body["errors"][0]["type"] == "too_large"


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient, settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    assert_error_shape(raw_post(client, chunks()), 413)
    assert client.get("/api/todos").json() == []


def test_the_limit_is_enforced_before_the_body_is_read(uvicorn_server: UvicornServer) -> None:
    # Only the headers are sent, announcing 20 MB: the answer comes without waiting for them.
    port = uvicorn_server.port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("POST", "/api/todos")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", "20000000")
        connection.endheaders()  # and no body
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["errors"][0]["type"] == "too_large"
    finally:
        connection.close()


# --- not JSON, not an object ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}])
def test_a_body_that_does_not_say_it_is_json_is_a_415(client: TestClient, headers: dict[str, str]) -> None:
    body = assert_error_shape(raw_post(client, b'{"title": "x"}', headers), 415)
    assert "Content-Type: application/json" in body["detail"]
    assert body["errors"] == [{"field": "header.content-type", "message": "must be application/json", "type": "unsupported_media_type"}]


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"title": "\xff"}', "request body is not valid JSON (UTF-8 text)"),
    (b"[" * 100_000 + b"]" * 100_000, None),  # nested deeper than the decoder recurses; over the limit too
    (b"[" * 5_000 + b"]" * 5_000, "request body is not valid JSON (UTF-8 text)"),
    (b'{"title": "x", "completed": ' + b"1" * 5_000 + b"}", None),
    (b"{not json", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
    (b'"a title"', "request body must be a JSON object"),
    (b"null", None),
])
def test_a_body_that_is_not_a_json_object_is_a_4xx_in_the_one_shape(client: TestClient, raw: bytes, message: str | None) -> None:
    body = assert_error_shape(raw_post(client, raw))
    if message is not None:
        assert message in body["detail"]
    assert client.get("/api/todos").json() == []


def test_unknown_routes_and_methods_answer_in_the_one_shape(client: TestClient) -> None:
    assert_error_shape(client.get("/api/nothing"), 404)
    assert_error_shape(client.put("/api/todos", json={"title": "x"}), 405)


def test_many_unknown_fields_get_a_bounded_answer(client: TestClient) -> None:
    body = assert_error_shape(client.post("/api/todos", json={"title": "ok", **{f"f{n}": n for n in range(2_000)}}), 422)
    assert len(body["errors"]) <= 20


# --- fuzz ------------------------------------------------------------------------------------------

ALPHABET = ["a", " ", "\x00", "\t", "\n", "\u200b", "\u0301", "é", "😀", "\ud800", "\udc00", "\\", '"', "{", "}", "\x7f", "\ufffe"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["str", "int", "float", "bool", "null", "list", "dict"] if depth < 3 else ["str", "int"])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {rng.choice(["title", "completed", random_text(rng)]): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    makers: dict[str, Callable[[], Any]] = {
        "str": lambda: random_text(rng), "int": lambda: rng.randint(-2**70, 2**70), "float": lambda: rng.uniform(-1e9, 1e9),
        "bool": lambda: rng.random() < 0.5, "null": lambda: None}
    return makers[kind]()


def random_request(rng: random.Random, todo_id: int) -> tuple[str, str, bytes | None, dict[str, str]]:
    method = rng.choice(["GET", "POST", "PATCH", "DELETE"])
    target = rng.choice([f"/api/todos/{todo_id}", "/api/todos", f"/api/todos/{rng.randint(-5, 2**40)}",
                         f"/api/todos?limit={rng.randint(-3, 900)}&offset={rng.randint(-3, 2**33)}", "/api/todos/%00",
                         "/api/todos?limit=%00", f"/api/todos/{random_text(rng).encode('utf-8', 'surrogatepass').hex()}"])
    body = json.dumps(random_value(rng), ensure_ascii=True).encode() if rng.random() < 0.8 else bytes(rng.randrange(256) for _ in range(20))
    headers = JSON if rng.random() < 0.9 else {"content-type": rng.choice(["text/plain", "application/json; charset=latin-1", ""])}
    return method, target, body, headers


def test_a_seeded_fuzz_of_requests_never_gets_a_5xx(client: TestClient) -> None:
    rng = random.Random(21)
    todo_id = client.post("/api/todos", json={"title": "target"}).json()["id"]
    for _ in range(600):
        method, target, body, headers = random_request(rng, todo_id)
        response = client.request(method, target, content=body, headers=headers)
        assert response.status_code < 500, (method, target, body, response.text)
        if response.status_code >= 400:
            assert_error_shape(response)
