"""Prometheus metrics (default process registry, single-process uvicorn)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
CACHE_EVENTS = Counter("todo_cache_events_total", "Todo list cache lookups", ["result"])
