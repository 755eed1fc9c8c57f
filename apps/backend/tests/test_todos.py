"""CRUD and validation of /api/todos against real PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import RedisServer

import pytest
from fastapi.testclient import TestClient
from todo_api import schemas
from todo_api.main import create_app
from todo_api.settings import Settings


def create(client: TestClient, title: str = "buy milk", **extra: object) -> dict[str, Any]:
    response = client.post("/api/todos", json={"title": title, **extra})
    assert response.status_code == 201, response.text
    todo: dict[str, Any] = response.json()
    return todo


def test_crud_round_trip(client: TestClient) -> None:
    assert client.get("/api/todos").json() == []

    created = client.post("/api/todos", json={"title": "  buy milk  "})
    assert created.status_code == 201
    todo = created.json()
    assert todo["title"] == "buy milk"  # surrounding whitespace trimmed
    assert todo["completed"] is False
    assert created.headers["location"] == f"/api/todos/{todo['id']}"

    assert client.get(f"/api/todos/{todo['id']}").json() == todo

    patched = client.patch(f"/api/todos/{todo['id']}", json={"completed": True})
    assert patched.status_code == 200
    assert patched.json()["completed"] is True
    assert patched.json()["title"] == "buy milk"

    renamed = client.patch(f"/api/todos/{todo['id']}", json={"title": "buy oat milk"})
    assert renamed.json()["title"] == "buy oat milk"
    assert renamed.json()["completed"] is True

    assert client.delete(f"/api/todos/{todo['id']}").status_code == 204
    missing = client.get(f"/api/todos/{todo['id']}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"todo {todo['id']} not found", "errors": []}
    assert client.get("/api/todos").json() == []


def test_list_is_ordered_by_id(client: TestClient) -> None:
    ids = [create(client, f"todo {n}")["id"] for n in range(3)]
    assert [t["id"] for t in client.get("/api/todos").json()] == ids


def test_patch_moves_updated_at_only(client: TestClient) -> None:
    todo = create(client)
    assert todo["updated_at"] == todo["created_at"]  # both the insert's now()
    patched = client.patch(f"/api/todos/{todo['id']}", json={"completed": True}).json()
    assert patched["created_at"] == todo["created_at"]
    assert patched["updated_at"] > todo["updated_at"]  # ISO 8601 in one zone: ordered as text
    assert client.get(f"/api/todos/{todo['id']}").json() == patched


def test_create_accepts_completed(client: TestClient) -> None:
    assert create(client, "done already", completed=True)["completed"] is True


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": ""}, "body.title", "title must not be empty or only whitespace"),
        ({"title": "   \t "}, "body.title", "title must not be empty or only whitespace"),
        ({"title": "x" * 201}, "body.title", "title must be at most 200 characters (got 201)"),
        ({}, "body.title", "is required"),
        ({"title": "ok", "owner": "me"}, "body.owner",
         "unknown field; allowed fields: title, completed"),
        ({"title": 5}, "body.title", "must be a string"),
        ({"title": "ok", "completed": "yes"}, "body.completed", "must be true or false"),
    ],
)
def test_create_rejects_bad_bodies(client: TestClient, body: dict[str, Any], field: str,
                                   message: str) -> None:
    response = client.post("/api/todos", json=body)
    assert response.status_code == 422
    payload = response.json()
    assert {"field": field, "message": message} in [
        {k: e[k] for k in ("field", "message")} for e in payload["errors"]
    ]
    assert f"{field}: {message}" in payload["detail"]
    assert client.get("/api/todos").json() == []  # nothing was written


def test_title_of_exactly_max_length_is_accepted(client: TestClient) -> None:
    assert create(client, "x" * 200)["title"] == "x" * 200


def test_invalid_json_is_explained(client: TestClient) -> None:
    response = client.post("/api/todos", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "request body is not valid JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body must set at least one of: title, completed"),
        ({"title": None}, "title must not be null"),
        ({"title": " "}, "title must not be empty or only whitespace"),
        ({"done": True}, "unknown field; allowed fields: title, completed"),
    ],
)
def test_patch_rejects_bad_bodies(client: TestClient, body: dict[str, Any], message: str) -> None:
    todo = create(client)
    response = client.patch(f"/api/todos/{todo['id']}", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert client.get(f"/api/todos/{todo['id']}").json() == todo


@pytest.mark.parametrize(
    ("todo_id", "message"),
    [
        ("abc", "path.todo_id: must be a whole number"),
        ("0", "path.todo_id: must be at least 1"),
        ("-4", "path.todo_id: must be at least 1"),
        (str(2**31), "path.todo_id: must be at most 2147483647"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_bad_ids_are_rejected(client: TestClient, method: str, todo_id: str,
                              message: str) -> None:
    response = client.request(method, f"/api/todos/{todo_id}", json={"completed": True})
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_unknown_id_is_404(client: TestClient, method: str) -> None:
    response = client.request(method, "/api/todos/999", json={"completed": True})
    assert response.status_code == 404
    assert response.json()["detail"] == "todo 999 not found"


def test_failed_write_leaves_nothing_behind(settings: Settings, clean_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error after the INSERT was sent rolls the whole request back."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        original = schemas.TodoOut.model_validate

        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom after flush")

        monkeypatch.setattr(schemas.TodoOut, "model_validate", explode)
        failed = client.post("/api/todos", json={"title": "half"}, headers={"X-Request-ID": "bug-1"})
        assert failed.status_code == 500
        # A bug answers in the one error shape too, with the request id to report.
        assert failed.json() == {"detail": "internal error; quote request id bug-1 when reporting it", "errors": []}
        assert failed.headers["x-request-id"] == "bug-1"
        monkeypatch.setattr(schemas.TodoOut, "model_validate", original)
        assert client.get("/api/todos").json() == []


def test_api_without_database_says_so(redis_server: RedisServer, clean_state: None) -> None:
    with TestClient(create_app(Settings(redis_url=redis_server.url))) as client:
        response = client.get("/api/todos/1")
    assert response.status_code == 503
    assert response.json() == {"detail": "database not configured: DATABASE_URL is not set", "errors": []}
