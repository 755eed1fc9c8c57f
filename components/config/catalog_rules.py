"""What catalog.yaml may not say even when every field is well formed: image sources,
health, edges and ports, cycles, templates that reach beyond talksTo, secrets, and what the
program would derive from it that collides (object names, mounts, env variables).

Every rule is one pass over the services with the catalog's indexes built once, so a
10,000-service catalog is checked in linear time."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from graphlib import CycleError, TopologicalSorter

from components.config.catalog import Catalog, ServiceSpec, built_service_names, secret_references
from components.config.dev_loop_rules import dev_loop_problems
from components.config.settings import SECRET_KEYS, SETTING_KEYS
from components.config.templates import template_grammar_problems
from components.core.names import (
    PROGRAM_OBJECTS,
    SECRET_DIR,
    kubernetes_object_names,
    secret_file_env,
    writable_volume_name,
)
from components.core.problems import OMITTED, Problem
from components.core.quantities import memory_bytes

KNOWN_SHOWN = 10  # names listed in a message before "… (N in all)"
# A Kubernetes object (the env ConfigMap, the Secret) holds at most 1 MiB; leave room for
# its metadata.
MAX_ENV_BYTES = 1_000_000


def _known(names: Iterable[str], without: str | None = None) -> str:
    """Some of `names`, sorted, for a message: at most KNOWN_SHOWN and how many there are."""
    listed = sorted(name for name in names if name != without)
    if not listed:
        return "none"
    if len(listed) <= KNOWN_SHOWN:
        return ", ".join(listed)
    return f"{', '.join(listed[:KNOWN_SHOWN])}, … ({len(listed):,} in all)"


def _shape_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    names = catalog.by_name()
    built = None
    for spec in catalog.services:
        key = f"services.{spec.name}"
        sources = [spec.image, spec.build, spec.image_of]
        if sum(source is not None for source in sources) != 1:
            problems.append(
                Problem(
                    key,
                    OMITTED,
                    "needs exactly one of image (upstream), build (this repo), imageOf (a built service's image)",
                )
            )
        if (
            spec.image_of is not None
            and spec.image_of not in unparsed
            and (spec.image_of not in names or names[spec.image_of].build is None)
        ):
            built = built if built is not None else _known(built_service_names(catalog.services))
            problems.append(Problem(f"{key}.imageOf", spec.image_of, f"must name a built service: {built}"))
        if spec.long_running and spec.health is None:
            problems.append(
                Problem(f"{key}.health", OMITTED, "a long-running service needs a health check (or oneShot: true)")
            )
        if spec.one_shot and (spec.public or spec.state):
            problems.append(Problem(f"{key}.oneShot", True, "a one-shot service is neither public nor stateful"))
        if spec.public and spec.port is None:
            problems.append(Problem(f"{key}.public", True, "a public service needs a port"))
        if spec.health is not None:
            problems += _health_problems(spec, f"{key}.health")
        if spec.state and memory_bytes(spec.state.size) < 2**20:
            problems.append(Problem(f"{key}.state.size", spec.state.size, "must be at least 1Mi, e.g. 1Gi"))
        problems += _storage_problems(spec, key)
    return problems


def _health_problems(spec: ServiceSpec, key: str) -> list[Problem]:
    """Each check is a path or a command; a path needs a port, and the readiness check's path a
    client that Docker runs it with; liveness is not readiness (a dependency's outage would
    restart the service)."""
    health, problems = spec.health, []
    checks = {"readiness": health.readiness, "liveness": health.liveness}
    for name, check in checks.items():
        if check is None:
            continue
        if (check.path is None) == (check.command is None):
            problems.append(
                Problem(f"{key}.{name}", OMITTED, "needs exactly one of path (an HTTP GET) or command (exec form)")
            )
        elif check.path is not None and spec.port is None:
            problems.append(Problem(f"{key}.{name}.path", check.path, "an HTTP check needs the service's port"))
    if health.readiness.path is not None and health.client is None:
        problems.append(
            Problem(
                f"{key}.client",
                OMITTED,
                "is required with readiness.path: Docker's health check runs the image's HTTP client with the "
                "path, e.g. client: [python, -m, app.healthcheck]",
            )
        )
    if health.liveness is not None and health.liveness == health.readiness:
        problems.append(
            Problem(
                f"{key}.liveness",
                OMITTED,
                "is the same check as readiness: liveness checks the service's own process only (a failing "
                "liveness restarts it, so a dependency's outage would restart healthy pods); readiness checks it "
                "can serve. Give liveness a check of the process alone, or leave it out",
            )
        )
    return problems


def _storage_problems(spec: ServiceSpec, key: str) -> list[Problem]:
    """An ephemeral-storage limit that the disk-backed writable paths alone can fill: the kubelet
    would evict the pod before any emptyDir reached its own sizeLimit."""
    limit = spec.resources.ephemeral_storage
    if limit is None or not spec.disk_backed_paths:
        return []
    needed = len(spec.disk_backed_paths) * memory_bytes(spec.writable_size)
    if memory_bytes(limit) > needed:
        return []
    return [
        Problem(
            f"{key}.resources.ephemeralStorage",
            limit,
            f"must exceed what the disk-backed writablePaths may hold ({len(spec.disk_backed_paths)} x writableSize "
            f"{spec.writable_size}), with room for the logs: the pod would be evicted before a path filled up",
        )
    ]


def _edge_problem(catalog: Catalog, spec: ServiceSpec, field_name: str, target: str) -> str | None:
    names = catalog.by_name()
    if target not in names or target == spec.name:
        return f"must name another service: {_known(names, without=spec.name)}"
    if field_name == "startsAfter" and not names[target].one_shot:
        return "must name a one-shot service"
    if field_name == "talksTo" and names[target].port is None:
        # A NetworkPolicy rule without a port would open every port.
        return f"{target} has no port to talk to; talk to services with a port"
    return None


def _edge_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    for spec in catalog.services:
        for field_name, targets in (("talksTo", spec.talks_to), ("startsAfter", spec.starts_after)):
            seen: set[str] = set()
            for index, target in enumerate(targets):
                key = f"services.{spec.name}.{field_name}.{index}"
                if target in unparsed:
                    continue
                if target in seen:
                    problems.append(Problem(key, target, f"is already in {field_name}: name each service once"))
                    continue
                seen.add(target)
                if why := _edge_problem(catalog, spec, field_name, target):
                    problems.append(Problem(key, target, why))
    return problems


def _cycle_problems(catalog: Catalog) -> list[Problem]:
    graph = {spec.name: set(spec.depends_on) for spec in catalog.services}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return [Problem("services", " -> ".join(error.args[1]), "talksTo and startsAfter must not form a cycle")]
    return []


def _reference_problem(catalog: Catalog, kind: str, name: str) -> str | None:
    names = catalog.by_name()
    if kind == "secret" and name not in catalog.secrets:
        return f"{{secret:{name}}} names no secret; declared: {_known(catalog.secrets)}"
    if kind in ("host", "port") and name not in names:
        return f"{{{kind}:{name}}} names no service; known: {_known(names)}"
    if kind == "port" and names[name].port is None:
        return f"{{port:{name}}}: {name} has no port"
    return None


def _template_problems(
    key: str,
    value: str,
    talks_to: Sequence[str] | None,
    catalog: Catalog,
    unparsed: frozenset[str],
) -> list[Problem]:
    """Text that looks like a placeholder and is not one, placeholders that name nothing, or
    a service the owner does not talk to (Kubernetes' default-deny NetworkPolicy would block
    what Docker lets through)."""
    problems = [Problem(key, value, why) for why in template_grammar_problems(value)]
    unreached = []
    for kind, name in secret_references(value, catalog.secrets):
        if name in unparsed:
            continue
        if why := _reference_problem(catalog, kind, name):
            problems.append(Problem(key, value, why))
        elif kind in ("host", "port") and talks_to is not None and name not in talks_to:
            unreached.append(name)
    for name in dict.fromkeys(unreached):  # once per service, whether named by host or port
        problems.append(
            Problem(
                key,
                value,
                f"reaches {name}, which is not in talksTo: add it there (NetworkPolicies allow only talksTo)",
            )
        )
    return problems


def _secret_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    names = catalog.by_name()
    problems = []
    configs: dict[str, str] = {}
    for name, secret in catalog.secrets.items():
        key = f"secrets.{name}"
        if secret.generate and secret.template:
            problems.append(Problem(key, OMITTED, "takes one of generate and template"))
        if not (secret.generate or secret.template or secret.config):
            problems.append(Problem(key, OMITTED, "needs generate, template or config"))
        if secret.owner is not None and secret.owner not in names and secret.owner not in unparsed:
            problems.append(Problem(f"{key}.owner", secret.owner, f"must name a service: {_known(names)}"))
        if secret.config in (*SECRET_KEYS, *SETTING_KEYS):
            problems.append(
                Problem(f"{key}.config", secret.config, "is a key of the program's own settings: choose another")
            )
        elif secret.config in configs:
            problems.append(
                Problem(f"{key}.config", secret.config, f"is already the config key of secret {configs[secret.config]}")
            )
        elif secret.config:
            configs[secret.config] = name
        if secret.template:
            problems += _template_problems(f"{key}.template", secret.template, None, catalog, unparsed)
            if ("secret", name) in secret_references(secret.template, catalog.secrets):
                problems.append(Problem(f"{key}.template", secret.template, "must not use itself"))
    return problems


# --- what the program derives from a service: names, mounts, env ------------------------------


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
    namespace), naming both origins: a service named dns gets the NetworkPolicy allow-dns,
    which is the program's own."""
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


def _derived_problems(catalog: Catalog) -> list[Problem]:
    problems = _object_name_problems(catalog)
    for spec in catalog.services:
        problems += _mount_problems(spec) + _volume_name_problems(spec) + _env_problems(spec)
    return problems


def catalog_problems(catalog: Catalog, unparsed: frozenset[str] = frozenset()) -> list[Problem]:
    """Everything wrong with the catalog on its own (settings are checked in plan/stack_rules.py).
    `unparsed`: services the file names whose fields were refused; references to them are
    not reported again."""
    problems = (
        _shape_problems(catalog, unparsed)
        + _edge_problems(catalog, unparsed)
        + _cycle_problems(catalog)
        + _secret_problems(catalog, unparsed)
        + _derived_problems(catalog)
        + dev_loop_problems(catalog)
    )
    for spec in catalog.services:
        for env_name, value in spec.env.items():
            problems += _template_problems(
                f"services.{spec.name}.env.{env_name}", value, spec.talks_to, catalog, unparsed
            )
    return problems
