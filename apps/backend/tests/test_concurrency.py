"""Hundreds of concurrent creates and deletes against the real server, PostgreSQL and Redis:
no answer is a 5xx other than 503 (busy), and the rows left are exactly the successful
creates minus the successful deletes. Bounded: a fixed number of requests, each with a
timeout, from a fixed number of threads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import PostgresCluster, UvicornServer

import http.client
import json
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

CREATES = 300
WORKERS = 24
TIMEOUT_SECONDS = 30


class Api:
    """One keep-alive connection per thread to the uvicorn process."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        if not hasattr(self.local, "connection"):
            self.local.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_SECONDS)
        connection = self.local.connection
        payload = json.dumps(body).encode() if body is not None else None
        try:
            connection.request(method, path, body=payload, headers={"Content-Type": "application/json"} if payload else {})
            response = connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            del self.local.connection
            raise
        return response.status, (json.loads(data) if data else None)


def create_then_maybe_delete(api: Api, index: int, others: list[int]) -> list[tuple[str, int]]:
    """Create one todo; delete it every other time; and try to change or delete one another
    thread made (which that thread may be deleting at the same moment)."""
    outcomes = []
    status, body = api.request("POST", "/api/todos", {"title": f"concurrent {index}"})
    outcomes.append(("create", status))
    if status == 201:
        others.append(body["id"])
        if index % 2 == 0:
            outcomes.append(("delete", api.request("DELETE", f"/api/todos/{body['id']}")[0]))
    rng = random.Random(index)
    if others and index % 3 == 0:
        # Another thread's todo: it may already be gone (404), never a 5xx.
        outcomes.append(("delete", api.request("DELETE", f"/api/todos/{rng.choice(others)}")[0]))
    if others and index % 5 == 0:
        outcomes.append(("patch", api.request("PATCH", f"/api/todos/{rng.choice(others)}", {"completed": True})[0]))
    return outcomes


def test_concurrent_creates_and_deletes_keep_the_count(uvicorn_server: UvicornServer, postgres: PostgresCluster) -> None:
    port = uvicorn_server.port
    api, created_ids = Api(port), list[int]()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda i: create_then_maybe_delete(api, i, created_ids), range(CREATES)))
    outcomes = Counter(outcome for result in results for outcome in result)
    assert not [o for o in outcomes if o[1] >= 500 and o[1] != 503], outcomes
    assert {status for _, status in outcomes} <= {200, 201, 204, 404, 503}, outcomes
    created, deleted = outcomes[("create", 201)], outcomes[("delete", 204)]
    assert created >= CREATES * 0.9, outcomes  # a busy pool may refuse a few (503); not most
    with postgres.connect("todo_test") as conn:
        row = conn.execute("SELECT count(*) FROM todos").fetchone()
    assert row is not None
    (rows,) = row
    assert rows == created - deleted, outcomes
    listed = api.request("GET", "/api/todos?limit=500")[1]
    assert len(listed) == rows
