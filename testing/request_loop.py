"""A bounded request loop against one URL, in a thread, for tests that change a running stack
(a rollout, a broken release, a pod deleted) and count what a client saw meanwhile.

    with RequestLoop("http://10.96.12.34:8000/api/todos") as loop:
        ... roll the Deployment ...
    assert loop.failed == [], loop.failed[:5]

Requests go out one after the other (no more than one in flight), `interval` apart, for at
most `limit` requests: the load stays bounded whatever the test does meanwhile.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request


class RequestLoop:
    def __init__(self, url: str, interval: float = 0.05, timeout: float = 5.0, limit: int = 20000):
        self.url, self.interval, self.timeout, self.limit = url, interval, timeout, limit
        self.ok = 0
        self.failed: list[str] = []  # "<seconds since start>: <what went wrong>"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def _one(self) -> str | None:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # nosec B310 -- an http:// URL to a Service address the test built
                response.read()
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            return f"{type(error).__name__}: {getattr(error, 'reason', error)}"

    def _run(self) -> None:
        for _ in range(self.limit):
            if self._stop.is_set():
                return
            problem = self._one()
            if problem is None:
                self.ok += 1
            else:
                self.failed.append(f"{time.monotonic() - self._started:.1f}s: {problem}")
            self._stop.wait(self.interval)

    def __enter__(self) -> RequestLoop:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    @property
    def total(self) -> int:
        return self.ok + len(self.failed)
