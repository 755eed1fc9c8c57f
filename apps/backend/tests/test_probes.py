"""/livez, /readyz, /health, /metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import RedisServer

from fastapi.testclient import TestClient
from todo_api.main import create_app
from todo_api.settings import Settings


def test_livez(client: TestClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_redis_down_and_back(client: TestClient, redis_server: RedisServer) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

    redis_server.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down: ")
    assert client.get("/livez").status_code == 200  # liveness ignores dependencies

    redis_server.start()
    back = client.get("/readyz")
    assert back.status_code == 200, back.text
    assert back.json()["down"] == []


def test_database_down_is_reported_and_startup_survives(redis_server: RedisServer, clean_state: None) -> None:
    from conftest import free_port

    unreachable = f"postgresql+psycopg://todo@127.0.0.1:{free_port()}/nothing"
    settings = Settings(database_url=unreachable, redis_url=redis_server.url,
                        db_connect_timeout_seconds=1)
    with TestClient(create_app(settings)) as client:
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["down"] == ["database"]
        assert "OperationalError" in ready.json()["checks"]["database"]
        listed = client.get("/api/todos")
        assert listed.status_code == 503
        assert listed.json() == {"detail": "database unavailable, try again", "errors": []}
        assert listed.headers["retry-after"] == "1"


def test_nothing_configured_names_database_and_disables_cache() -> None:
    with TestClient(create_app(Settings())) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "down: not configured (DATABASE_URL is not set)",
        "redis": "disabled",
    }


def test_health_reports_version_and_checks(client: TestClient, redis_server: RedisServer) -> None:
    health = client.get("/health").json()
    assert health == {"status": "ok", "version": "1.2.3-test", "down": [],
                      "checks": {"database": "ok", "redis": "ok"}}
    redis_server.stop()
    degraded = client.get("/health")
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["down"] == ["redis"]


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/todos/12345")
    text = client.get("/metrics")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert ('http_requests_total{method="GET",route="/api/todos/{todo_id}",status="404"}'
            in text.text)
    assert "http_request_duration_seconds_bucket" in text.text
    assert "todo_cache_events_total" in text.text
