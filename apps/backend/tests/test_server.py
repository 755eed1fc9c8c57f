"""The real process: uvicorn as the image runs it, the health check command, JSON logs,
graceful shutdown on SIGTERM."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import UvicornServer

import http.server
import json
import signal
import threading
import time
import urllib.request

from conftest import healthcheck


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200 if self.path == "/livez" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_healthcheck_exit_codes() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert healthcheck(port).returncode == 0
        failing = healthcheck(port, "/readyz")
        assert failing.returncode == 1
        assert "HTTP 503" in failing.stderr
    finally:
        server.shutdown()
        server.server_close()
    refused = healthcheck(port)
    assert refused.returncode == 1
    assert f"http://127.0.0.1:{port}/livez" in refused.stderr


def test_uvicorn_process(uvicorn_server: UvicornServer) -> None:
    proc, port = uvicorn_server.proc, uvicorn_server.port
    assert healthcheck(port, "/readyz").returncode == 0
    request = urllib.request.Request(f"http://127.0.0.1:{port}/health",
                                     headers={"X-Request-ID": "proc-1"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["version"] == "7.7.7"

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after a clean shutdown, so -SIGTERM is the normal code.
    assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 10
    lines = [json.loads(line) for line in uvicorn_server.output().splitlines() if line.startswith("{")]
    assert any(entry.get("request_id") == "proc-1" and entry.get("path") == "/health"
               for entry in lines), lines
    assert not any("color_message" in entry for entry in lines)  # no ANSI duplicates
    messages = [entry["message"] for entry in lines]
    assert "starting" in messages and "shutting down" in messages
