"""Facts of this machine that a Docker engine running here shares: whether a loopback port is
taken, and the free space of a directory's filesystem. `DockerEngine` asks them only when the
engine runs on this machine (engine.py: `on_this_machine`)."""

from __future__ import annotations

import errno
import os
import socket


def loopback_port_in_use(port: int) -> bool:
    """Whether a bind to 127.0.0.1:`port` fails because something listens there. SO_REUSEADDR,
    as Docker's port proxy binds: a port with only closed connections lingering (TIME_WAIT) is
    free for it, and so is not reported taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def free_bytes(path: str) -> int | None:
    """Bytes an unprivileged process may still write on the filesystem of `path` (what `df` shows
    as available), or None when `path` is not there."""
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def filesystem(path: str) -> int | None:
    """The device `path` lives on (two paths on one device share their free space), or None."""
    try:
        return os.stat(path).st_dev
    except OSError:
        return None
