"""Free space where a build and the stack's containers write, checked before anything is
created: Docker's root directory (images, containers, volumes) and BuildKit's root (the build
cache), when the engine runs on this machine. A disk that fills during a build fails deep in
BuildKit's output, after earlier resources were changed.

What a build needs was measured here (docs/troubleshooting.md): a cold build of the reference
app's two images on an empty BuildKit root wrote 1.50 GB there (1.57 GB in `buildctl du`), and
the loaded images take 0.23 GB in Docker's root (backend 103 MB, frontend 127 MB). The needs
below round those up with room for the containers' logs (10 MB x 3 per service), the data
volumes and a second build's new layers."""

from __future__ import annotations

import json
import os
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.targets.docker.endpoint import docker_config_dir
from components.targets.docker.engine import DockerEngine
from components.targets.docker.machine import filesystem

GIB = 1024**3
DOCKER_ROOT_NEEDS = 1 * GIB  # loaded images, containers' writable layers and logs, volumes
BUILDKIT_ROOT_NEEDS = 2 * GIB  # a cold build's cache (1.5 GB measured) and its exports
BUILDKITD_DEFAULT_ROOT = "/var/lib/buildkit"
# buildx drivers whose BuildKit keeps its state inside the engine (its own, or a container's volume)
IN_DOCKER_ROOT_DRIVERS = ("docker", "docker-container")


def _gib(size: float) -> str:
    return f"{size / GIB:.1f} GiB"


def _buildx_builder(config_dir: Path, name: str | None) -> dict[str, Any] | None:
    """buildx's record of the builder `name` (None: buildx's current one), or None when there is
    none (the engine's own builder, `default`, has no record). Any: buildx's JSON, read loosely."""
    if name is None:
        try:
            name = json.loads((config_dir / "buildx" / "current").read_text()).get("Name")
        except (OSError, ValueError):
            return None
    if not name:
        return None
    try:
        record: dict[str, Any] = json.loads((config_dir / "buildx" / "instances" / name).read_text())
    except (OSError, ValueError):
        return None
    return record


def _listening_process(socket_path: str) -> int | None:
    """The pid of the process that listens on the unix socket `socket_path` here, or None."""
    try:
        table = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return None
    inodes = {fields[6] for fields in (line.split() for line in table) if len(fields) >= 8 and fields[7] == socket_path}
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in targets for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue  # gone, or not ours to read
    return None


def _buildkitd_root(pid: int) -> str:
    """buildkitd's state directory: its --root flag, else its config file's `root`, else the default."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    flags: dict[str, str] = {}
    for index, arg in enumerate(argv):
        for flag in ("--root", "--config"):
            if arg == flag and index + 1 < len(argv):
                flags[flag] = argv[index + 1]
            elif arg.startswith(flag + "="):
                flags[flag] = arg.split("=", 1)[1]
    if "--root" in flags:
        return flags["--root"]
    if "--config" in flags:
        try:
            return str(tomllib.loads(Path(flags["--config"]).read_text()).get("root") or BUILDKITD_DEFAULT_ROOT)
        except (OSError, ValueError):
            pass
    return BUILDKITD_DEFAULT_ROOT


def buildkit_root(builder: str | None, docker_root: str, env: Mapping[str, str]) -> tuple[str | None, str]:
    """Where the builder keeps its build cache on this machine, and its name for messages:
    `docker_root` for the engine's own builder and a docker-container builder (its state is a
    volume), a remote builder's buildkitd root when it listens on a socket here, else None (a
    builder on another machine: its disk is not visible from here)."""
    record = _buildx_builder(docker_config_dir(env), builder)
    if record is None:
        return docker_root, builder or "the engine's builder"
    name = record.get("Name") or builder or "?"
    if record.get("Driver") in IN_DOCKER_ROOT_DRIVERS:
        return docker_root, name
    endpoint = ((record.get("Nodes") or [{}])[0] or {}).get("Endpoint") or ""
    if record.get("Driver") != "remote" or not endpoint.startswith("unix://"):
        return None, name
    pid = _listening_process(endpoint.removeprefix("unix://"))
    return (_buildkitd_root(pid) if pid is not None else None), name


def disk_problems(engine: DockerEngine, *, builds: bool, builder: str | None, env: Mapping[str, str]) -> list[str]:
    """Why this machine's disk cannot take this `up`, or []: the free space of each filesystem
    Docker's root and (when the stack builds) BuildKit's root live on, against what they need
    together. Nothing is said when the engine runs elsewhere (its disk is not visible from here)."""
    docker_root = engine.root_dir()
    needs = [(docker_root, DOCKER_ROOT_NEEDS, "Docker's root")]
    builder_name = None
    if builds:
        root, builder_name = buildkit_root(builder, docker_root, env)
        if root is not None:
            needs.append((root, BUILDKIT_ROOT_NEEDS, f"BuildKit's cache of builder {builder_name}"))
    by_filesystem: dict[object, list[tuple[str, int, str]]] = {}
    for path, need, what in needs:
        by_filesystem.setdefault(filesystem(path) or path, []).append((path, need, what))
    problems = []
    for shared in by_filesystem.values():
        path = shared[0][0]
        free = engine.free_bytes(path)
        need = sum(item[1] for item in shared)
        if free is None or free >= need:
            continue
        paths: dict[str, list[str]] = {}
        for item_path, _, what in shared:
            paths.setdefault(item_path, []).append(what)
        where = " and ".join(f"{item_path} ({', '.join(whats)})" for item_path, whats in paths.items())
        parts = " + ".join(f"{_gib(item_need)} for {what}" for _, item_need, what in shared)
        prune = "`docker image prune` (unused images), `docker builder prune`"
        if builder_name and any(what.startswith("BuildKit") for _, _, what in shared):
            prune += f" or `docker buildx prune --builder {shlex.quote(builder_name)}` (build cache)"
        problems.append(
            f"the disk is nearly full: {where} {'have' if len(paths) > 1 else 'has'} {_gib(free)} free, "
            f"and this `up` needs about {_gib(need)} there ({parts}). `docker system df` shows what Docker "
            f"holds; {prune} free space, or move Docker's data-root to a larger disk"
        )
    return problems
