"""GET /api/todos is paged: `limit` (default 100, at most 500) todos from `offset` (default 0),
ordered by id; each page is cached on its own and every write moves them all on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    import httpx2 as httpx
    from conftest import PostgresCluster

import pytest
from todo_api.api import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


@pytest.fixture
def many(postgres: PostgresCluster, clean_state: None) -> list[int]:
    """More todos than a default page, written straight to PostgreSQL (fast)."""
    count = DEFAULT_PAGE_SIZE + 7
    with postgres.connect("todo_test") as conn:
        conn.execute("INSERT INTO todos (title) SELECT 'todo ' || n FROM generate_series(1, %s) AS n", (count,))
        return [row[0] for row in conn.execute("SELECT id FROM todos ORDER BY id")]


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [todo["id"] for todo in response.json()]


def test_the_default_page_is_the_first_hundred(client: TestClient, many: list[int]) -> None:
    assert ids(client.get("/api/todos")) == many[:DEFAULT_PAGE_SIZE]


def test_pages_walk_the_list_in_id_order(client: TestClient, many: list[int]) -> None:
    seen, offset = [], 0
    while True:
        page = ids(client.get(f"/api/todos?limit=30&offset={offset}"))
        seen += page
        if len(page) < 30:  # the last page is the short one
            break
        offset += 30
    assert seen == many


def test_each_page_is_cached_on_its_own_and_writes_move_them_on(client: TestClient, many: list[int]) -> None:
    first = client.get("/api/todos?limit=5")
    second = client.get("/api/todos?limit=5&offset=5")
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "miss")
    assert ids(client.get("/api/todos?limit=5&offset=5")) == many[5:10]
    assert client.get("/api/todos?limit=5&offset=5").headers["x-cache"] == "hit"
    client.delete(f"/api/todos/{many[0]}")
    after = client.get("/api/todos?limit=5")
    assert after.headers["x-cache"] == "miss" and ids(after) == many[1:6]


@pytest.mark.parametrize("query", ["limit=0", f"limit={MAX_PAGE_SIZE + 1}", "limit=-1", "limit=x", "offset=-1",
                                   f"offset={2**31}", f"offset={10**30}", "limit=1.5", "limit=%00"])
def test_a_limit_or_offset_outside_the_page_rules_is_a_422(client: TestClient, query: str) -> None:
    response = client.get(f"/api/todos?{query}")
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"detail", "errors"}
    assert response.json()["errors"][0]["field"].startswith("query.")


def test_the_largest_page_is_allowed(client: TestClient, many: list[int]) -> None:
    assert ids(client.get(f"/api/todos?limit={MAX_PAGE_SIZE}")) == many


def test_the_paging_rules_are_in_the_api_docs(client: TestClient) -> None:
    parameters = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/api/todos"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == MAX_PAGE_SIZE
    assert parameters["limit"]["schema"]["default"] == DEFAULT_PAGE_SIZE
    assert parameters["offset"]["schema"]["default"] == 0
