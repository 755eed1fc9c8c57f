"""What the program would derive from a catalog's service that collides: two mounts at one path,
a scratch path inside the data or secrets directory, two writable paths with one pod volume name,
a plain variable the program sets from a secret, env too large for one Kubernetes object, and
Kubernetes objects of two origins under one name. Part of catalog_problems (catalog_rules.py)."""

from __future__ import annotations

import posixpath

from components.config.catalog import Catalog, ServiceSpec
from components.core.names import (
    PROGRAM_OBJECTS,
    SECRET_DIR,
    kubernetes_object_names,
    secret_file_env,
    writable_volume_name,
)
from components.core.problems import OMITTED, Problem

# A Kubernetes object (the env ConfigMap, the Secret) holds at most 1 MiB; leave room for
# its metadata.
MAX_ENV_BYTES = 1_000_000


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _mounts(spec: ServiceSpec) -> list[tuple[str, str]]:
    """(path, what mounts it) for every mount the targets give the service's container."""
    mounts = []  # the program's own first, so a clash is reported on the writable path
    if spec.state is not None:
        mounts.append((spec.state.path, "state.path"))
    if spec.secret_env_names():
        mounts.append((SECRET_DIR, "the secret files (Kubernetes)"))
    if spec.build is not None:
        mounts.append((spec.build.source_mount, "build.sourceMount (dev.hotReload)"))
    if spec.monitoring is not None:
        mounts.append((posixpath.dirname(spec.monitoring.config_file), "monitoring.configFile (its directory)"))
    return mounts + [(path, f"writablePaths.{index}") for index, path in enumerate(spec.writable_paths)]


def _mount_problems(spec: ServiceSpec) -> list[Problem]:
    """Two mounts at one path (Kubernetes refuses the pod; Docker keeps one silently), a
    scratch path inside the data volume (it would hide part of the data), and anything inside
    the directory the program mounts the secrets at."""
    problems = []
    key = f"services.{spec.name}"
    seen: dict[str, str] = {}
    for path, origin in _mounts(spec):
        normal = posixpath.normpath(path)
        if normal in seen:
            problems.append(
                Problem(f"{key}.{origin}", path, f"is already mounted by {seen[normal]}: mount each path once")
            )
            continue
        seen[normal] = origin
        if origin.startswith("writablePaths") and spec.state is not None and _under(normal, spec.state.path):
            problems.append(
                Problem(
                    f"{key}.{origin}",
                    path,
                    f"is inside state.path {spec.state.path}: the data volume is writable already",
                )
            )
        if not origin.startswith("the secret") and _under(normal, SECRET_DIR):
            problems.append(
                Problem(
                    f"{key}.{origin}",
                    path,
                    f"is inside {SECRET_DIR}, where the program mounts the secrets: choose another path",
                )
            )
    return problems


def _volume_name_problems(spec: ServiceSpec) -> list[Problem]:
    """Writable paths whose derived pod volume names are equal (`/a-b` and `/a/b`)."""
    problems = []
    names: dict[str, str] = {}
    for index, path in enumerate(spec.writable_paths):
        name = writable_volume_name(path)
        other = names.setdefault(name, path)
        if other != path:
            problems.append(
                Problem(
                    f"services.{spec.name}.writablePaths.{index}",
                    path,
                    f"its pod volume would be named {name}, as {other}'s is (Kubernetes refuses the pod): rename one path",
                )
            )
    return problems


def _env_problems(spec: ServiceSpec) -> list[Problem]:
    """A plain variable the program also sets from a secret (X_FILE for the secret X, on
    Kubernetes), and env too large for one Kubernetes object."""
    problems = []
    key = f"services.{spec.name}.env"
    for name in spec.secret_env_names():
        derived = secret_file_env(name)
        if derived in spec.env:
            problems.append(
                Problem(
                    f"{key}.{derived}",
                    OMITTED,
                    f"the program sets {derived} itself (where the secret {name} is mounted, on Kubernetes): rename one of them",
                )
            )
    size = sum(len(name) + len(value.encode("utf-8", "surrogatepass")) for name, value in spec.env.items())
    if size > MAX_ENV_BYTES:
        problems.append(
            Problem(
                key,
                OMITTED,
                f"holds {size:,} bytes; at most {MAX_ENV_BYTES:,} fit in one Kubernetes ConfigMap or Secret",
            )
        )
    return problems


def _object_name_problems(catalog: Catalog) -> list[Problem]:
    """Kubernetes objects the program would create under one name (per kind, in the one
    namespace), naming both origins: a service named `<stateful service>-headless` would be that
    service's headless Service. The program's own objects are named so no service's can meet
    them (core/names.py); they are checked too, so a new one that could is caught here."""
    owners = dict(PROGRAM_OBJECTS)
    problems = []
    for spec in catalog.services:
        for kind, name in kubernetes_object_names(spec.name):
            origin = f"services.{spec.name}'s {kind}"
            other = owners.setdefault((kind, name), origin)
            if other != origin:
                problems.append(
                    Problem(
                        f"services.{spec.name}",
                        OMITTED,
                        f"its {kind} would be named {name}, which is {other}: rename the service",
                    )
                )
    return problems


def derived_problems(catalog: Catalog) -> list[Problem]:
    """Every collision of what the program derives from the catalog's services."""
    problems = _object_name_problems(catalog)
    for spec in catalog.services:
        problems += _mount_problems(spec) + _volume_name_problems(spec) + _env_problems(spec)
    return problems
