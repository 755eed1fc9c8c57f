"""Best-effort Redis cache of the todo list.

Keys are versioned: every write bumps `todos:version`, so a list read that raced a write can
only fill a key nobody reads any more (no stale list after a write). If Redis is down every
operation degrades to a miss / no-op and the API keeps serving from PostgreSQL; a missed
invalidation is bounded by the TTL.
"""

from __future__ import annotations

import logging

import redis

from todo_api.metrics import CACHE_EVENTS

log = logging.getLogger(__name__)

VERSION_KEY = "todos:version"
LIST_KEY_PREFIX = "todos:list:v"


class TodoListCache:
    def __init__(self, client: redis.Redis | None, ttl_seconds: int) -> None:
        self._client = client
        self._ttl = ttl_seconds

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _list_key(self, offset: int, limit: int) -> str:
        if self._client is None:  # callers check `enabled` first; an explicit error survives python -O
            raise RuntimeError("the todo list cache has no Redis client")
        version = self._client.get(VERSION_KEY)
        return f"{LIST_KEY_PREFIX}{int(version or 0)}:{offset}:{limit}"

    def get_list(self, offset: int = 0, limit: int = 100) -> tuple[bytes | None, str | None]:
        """(cached JSON of one page, key to fill on a miss); (None, None) when Redis is
        unusable. Each page has its key under the same version: a write moves them all on."""
        if self._client is None:
            return None, None
        try:
            key = self._list_key(offset, limit)
            cached = self._client.get(key)
        except redis.RedisError as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache read failed, serving from database", extra={"error": str(exc)})
            return None, None
        CACHE_EVENTS.labels("hit" if cached is not None else "miss").inc()
        # A client made with decode_responses=True answers str: the page is served as bytes either way.
        return (cached.encode() if isinstance(cached, str) else cached), key

    def put_list(self, key: str | None, payload: bytes) -> None:
        if self._client is None or key is None:
            return
        try:
            self._client.set(key, payload, ex=self._ttl)
        except redis.RedisError as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache fill failed", extra={"error": str(exc)})

    def invalidate(self) -> None:
        if self._client is None:
            return
        try:
            self._client.incr(VERSION_KEY)
        except redis.RedisError as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache invalidation failed; stale for at most the TTL",
                        extra={"error": str(exc)})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def ping(self) -> None:
        if self._client is None:
            raise RuntimeError("REDIS_URL is not set")
        self._client.ping()


def make_redis(url: str | None, timeout_seconds: float) -> redis.Redis | None:
    if not url:
        return None
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )
