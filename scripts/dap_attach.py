#!/usr/bin/env python3
"""Attach to a debugger that speaks the Debug Adapter Protocol (debugpy: the backend with
dev.debug) from the command line: set breakpoints, wait for a stop, show where and what, step.

    python3 scripts/dap_attach.py --port 5678 --map apps/backend/src=/app/src \\
        apps/backend/src/todo_api/probes.py:40

Then send the request that reaches the line. At a stop: `c` continue, `n` next, `s` step in,
`o` step out, `p EXPR` evaluate in the frame, `q` detach (the app keeps running). Standard library
only; VS Code attaches with .vscode/launch.json instead (README "The dev loop").
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One DAP message, as json.loads returns it: its fields' types depend on the message's command and
# the adapter, and the protocol's schema is not vendored here, so the values stay Any.
Message = dict[str, Any]


class Dap:
    """A Debug Adapter Protocol client over TCP: Content-Length framed JSON messages."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.seq = 0
        self.seen: list[Message] = []  # every message read, in order

    def close(self) -> None:
        self.sock.close()

    def send(self, command: str, arguments: Message | None = None) -> int:
        self.seq += 1
        message = {"seq": self.seq, "type": "request", "command": command, "arguments": arguments or {}}
        body = json.dumps(message).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> Message:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        header, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lengths = [
            int(line.split(b":", 1)[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ]
        while len(self.buffer) < lengths[0]:
            self._fill()
        body, self.buffer = self.buffer[: lengths[0]], self.buffer[lengths[0] :]
        message: Message = json.loads(body)
        self.seen.append(message)
        return message

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the debug adapter closed the connection")
        self.buffer += chunk

    def wait_for(self, predicate: Callable[[Message], bool], what: str, timeout: float = 60) -> Message:
        """The first message (already read, or still to come) that `predicate` accepts."""
        for message in self.seen:
            if predicate(message):
                self.seen.remove(message)
                return message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read()
            if predicate(message):
                self.seen.remove(message)
                return message
        raise TimeoutError(f"no {what} within {timeout}s")

    def response(self, seq: int, timeout: float = 60) -> Message:
        found = self.wait_for(
            lambda m: m.get("type") == "response" and m.get("request_seq") == seq, f"response to #{seq}", timeout
        )
        if not found.get("success"):
            raise RuntimeError(f"{found.get('command')}: {found.get('message')}")
        return found

    def request(self, command: str, arguments: Message | None = None, timeout: float = 60) -> Message:
        body: Message = self.response(self.send(command, arguments), timeout).get("body") or {}
        return body

    def event(self, name: str, timeout: float = 60) -> Message:
        return self.wait_for(lambda m: m.get("type") == "event" and m.get("event") == name, f"event {name}", timeout)

    def attach(self, breakpoints: dict[str, list[int]], **attach_arguments: Any) -> dict[str, list[Message]]:
        """initialize, attach, breakpoints (remote path -> lines), configurationDone; returns what
        the adapter says of each breakpoint (verified or not)."""
        self.request("initialize", {"clientID": "dockyard", "adapterID": "debugpy", "pathFormat": "path",
                                    "linesStartAt1": True, "columnsStartAt1": True})  # fmt: skip
        attach = self.send("attach", attach_arguments)
        self.event("initialized")
        placed = {
            path: self.request(
                "setBreakpoints", {"source": {"path": path}, "breakpoints": [{"line": n} for n in lines]}
            )["breakpoints"]
            for path, lines in breakpoints.items()
        }
        self.request("configurationDone")
        self.response(attach)
        return placed


def _remote(local: str, mappings: list[tuple[str, str]]) -> str:
    path = Path(local).resolve().as_posix()
    for local_root, remote_root in mappings:
        root = Path(local_root).resolve().as_posix()
        if path == root or path.startswith(root + "/"):
            return remote_root.rstrip("/") + path[len(root) :]
    return local


def _show_stop(dap: Dap, stopped: Message) -> int:
    thread = stopped["body"]["threadId"]
    frames = dap.request("stackTrace", {"threadId": thread, "levels": 5})["stackFrames"]
    print(f"stopped ({stopped['body']['reason']}) in thread {thread}:")
    for frame in frames:
        print(f"  {frame['name']}  {frame.get('source', {}).get('path', '?')}:{frame['line']}")
    for scope in dap.request("scopes", {"frameId": frames[0]["id"]})["scopes"][:1]:
        for variable in dap.request("variables", {"variablesReference": scope["variablesReference"]})["variables"][:20]:
            print(f"    {variable['name']} = {variable['value'][:160]}")
    frame_id: int = frames[0]["id"]
    return frame_id


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("breakpoints", nargs="+", metavar="FILE:LINE", help="local source file and line")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the debugger's port on 127.0.0.1 (make urls)")
    parser.add_argument("--map", action="append", default=[], metavar="LOCAL=REMOTE",
                        help="a local directory and where the container has it, e.g. apps/backend/src=/app/src")  # fmt: skip
    args = parser.parse_args(argv)
    mappings = [tuple(item.split("=", 1)) for item in args.map]
    wanted: dict[str, list[int]] = {}
    for item in args.breakpoints:
        file, _, line = item.rpartition(":")
        wanted.setdefault(_remote(file, mappings), []).append(int(line))
    dap = Dap(args.port, args.host)
    try:
        for path, placed in dap.attach(wanted, justMyCode=False).items():
            for breakpoint in placed:
                state = "set" if breakpoint.get("verified") else f"not verified ({breakpoint.get('message', '')})"
                print(f"breakpoint {path}:{breakpoint.get('line')}: {state}")
        print("attached: waiting for a breakpoint (Ctrl-C detaches)")
        while True:
            stopped = dap.event("stopped", timeout=86400)
            frame = _show_stop(dap, stopped)
            while True:
                command = input("(c)ontinue (n)ext (s)tep (o)ut (p EXPR) (q)uit> ").strip()
                if command.startswith("p "):
                    result = dap.request("evaluate", {"expression": command[2:], "frameId": frame, "context": "repl"})
                    print(result.get("result"))
                    continue
                if command == "q":
                    raise KeyboardInterrupt
                step = {"c": "continue", "n": "next", "s": "stepIn", "o": "stepOut"}.get(command or "c")
                if step:
                    dap.request(step, {"threadId": stopped["body"]["threadId"]})
                    break
    except (KeyboardInterrupt, EOFError):  # Ctrl-C, `q`, or the end of piped input
        dap.request("disconnect", {"terminateDebuggee": False})
        print("\ndetached; the app runs on")
    finally:
        dap.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
