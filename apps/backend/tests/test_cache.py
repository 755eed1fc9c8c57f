"""The todo list is cached in Redis, invalidated by every write, and best-effort."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import PostgresCluster, RedisServer

import json

from fastapi.testclient import TestClient
from todo_api.cache import LIST_KEY_PREFIX, VERSION_KEY


def test_second_list_is_served_from_redis(client: TestClient, postgres: PostgresCluster, redis_server: RedisServer) -> None:
    client.post("/api/todos", json={"title": "cached"})
    first = client.get("/api/todos")
    assert first.headers["x-cache"] == "miss"
    keys = [k if isinstance(k, str) else k.decode() for k in redis_server.client().keys(f"{LIST_KEY_PREFIX}*")]
    assert len(keys) == 1
    cached = redis_server.client().get(keys[0])
    assert cached is not None and json.loads(cached) == first.json()

    # A row written behind the API's back is invisible while the cached list is served...
    with postgres.connect("todo_test") as conn:
        conn.execute("INSERT INTO todos (title) VALUES ('sneaky')")
    second = client.get("/api/todos")
    assert second.headers["x-cache"] == "hit"
    assert [t["title"] for t in second.json()] == ["cached"]

    # ...and a cache entry planted in Redis is what the API returns.
    redis_server.client().set(keys[0], b'[{"planted": true}]')
    assert client.get("/api/todos").json() == [{"planted": True}]


def test_every_write_is_visible_in_the_next_list(client: TestClient) -> None:
    client.get("/api/todos")  # prime the cache (empty list)
    todo = client.post("/api/todos", json={"title": "a"}).json()
    listed = client.get("/api/todos")
    assert listed.headers["x-cache"] == "miss"
    assert [t["title"] for t in listed.json()] == ["a"]
    assert client.get("/api/todos").headers["x-cache"] == "hit"

    client.patch(f"/api/todos/{todo['id']}", json={"title": "b", "completed": True})
    listed = client.get("/api/todos").json()
    assert [(t["title"], t["completed"]) for t in listed] == [("b", True)]
    client.get("/api/todos")

    client.delete(f"/api/todos/{todo['id']}")
    assert client.get("/api/todos").json() == []


def test_failed_validation_does_not_invalidate(client: TestClient, redis_server: RedisServer) -> None:
    client.get("/api/todos")
    version = redis_server.client().get(VERSION_KEY)
    client.post("/api/todos", json={"title": ""})
    assert redis_server.client().get(VERSION_KEY) == version
    assert client.get("/api/todos").headers["x-cache"] == "hit"


def test_reads_and_writes_work_while_redis_is_down(client: TestClient, redis_server: RedisServer) -> None:
    client.post("/api/todos", json={"title": "before"})
    client.get("/api/todos")
    redis_server.stop()

    created = client.post("/api/todos", json={"title": "during outage"})
    assert created.status_code == 201
    listed = client.get("/api/todos")
    assert listed.status_code == 200
    assert listed.headers["x-cache"] == "miss"
    assert [t["title"] for t in listed.json()] == ["before", "during outage"]
    assert client.patch(f"/api/todos/{created.json()['id']}",
                         json={"completed": True}).status_code == 200
    assert client.delete(f"/api/todos/{created.json()['id']}").status_code == 204

    redis_server.start()  # fresh, empty Redis: the next list refills it
    assert [t["title"] for t in client.get("/api/todos").json()] == ["before"]
    assert client.get("/api/todos").headers["x-cache"] == "hit"
