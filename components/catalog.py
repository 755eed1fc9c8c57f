"""The service catalog: one `ServiceSpec` per workload, declared once.

Pure data and pure functions. The Docker and Kubernetes components render these
specs; a team swaps in its own services by editing `CATALOG` only.

Environment values are templates resolved per target:
`{host:svc}` (the service's network name), `{port:svc}` (its port) and
`{secret:name}` (a value from components/secrets.py; any variable that uses one
is a secret as a whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter

from components.settings import Problem, Settings

DEFAULT_USER = "1000:1000"
_PLACEHOLDER = re.compile(r"\{(host|port|secret):([a-z0-9-]+)\}")

# Named opt-outs: each weakens one default of principle 3 and carries its reason.
OPT_OUT_UPSTREAM_UID = "upstream-uid"
OPT_OUT_READ_ONLY_ROOT = "read-only-root"


@dataclass(frozen=True)
class Build:
    """An image built from this repo."""

    context: str  # directory holding the Dockerfile, relative to the project root
    base_image: str  # default BASE_IMAGE build argument, pinned by tag
    runtime_base_image: str | None = None  # default RUNTIME_BASE_IMAGE (runtime stage); None: base_image
    target: str = "runtime"
    dev_target: str = "dev"
    source_dir: str = "src"  # bind-mounted for hot reload, relative to context
    source_mount: str = "/app/src"


@dataclass(frozen=True)
class Health:
    """How to tell the service is alive and ready.

    HTTP services give paths (Kubernetes probes); `command` is the exec-form
    check for Docker, using a binary that exists in the image.
    """

    command: tuple[str, ...]
    liveness_path: str | None = None
    readiness_path: str | None = None
    # Docker health-check timing (Go durations). Tuned per service from measured start times
    # (bench/stack.py): poll every start_interval while starting, every interval once healthy.
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 5
    start_period: str = "30s"
    start_interval: str = "2s"


@dataclass(frozen=True)
class Resources:
    memory: str  # limit; the request is derived (see kubernetes_env)
    cpu: str


@dataclass(frozen=True)
class State:
    """Persistent data: a named volume (Docker) or a PVC (Kubernetes)."""

    path: str
    size: str = "1Gi"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    resources: Resources
    image: str | None = None  # an upstream image pinned by tag
    build: Build | None = None  # or built from this repo
    image_of: str | None = None  # or the image another service builds (migrations)
    port: int | None = None
    command: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    health: Health | None = None
    state: State | None = None
    writable_paths: tuple[str, ...] = ("/tmp",)
    talks_to: tuple[str, ...] = ()  # network edges: Docker start order, NetworkPolicy egress
    starts_after: tuple[str, ...] = ()  # one-shot services that must succeed first
    one_shot: bool = False
    public: bool = False  # reached from outside: published port / Ingress
    user: str = DEFAULT_USER
    fs_group: int | None = None
    opt_outs: Mapping[str, str] = field(default_factory=dict)  # name -> why
    external_secret: str | None = None  # config secret that replaces it when disabled

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.talks_to + self.starts_after

    @property
    def long_running(self) -> bool:
        return not self.one_shot

    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if "{secret:" in value)

    def plain_env_names(self) -> tuple[str, ...]:
        return tuple(name for name, value in self.env.items() if "{secret:" not in value)


_DB_NAME = "todo"
_DB_USER = "todo"

CATALOG: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="postgres",
        image="postgres:17.6-bookworm",
        port=5432,
        env={
            "POSTGRES_DB": _DB_NAME,
            "POSTGRES_USER": _DB_USER,
            "POSTGRES_PASSWORD": "{secret:postgres-password}",
            # A subdirectory of the volume: a fresh cloud disk's lost+found makes its root non-empty,
            # and initdb refuses a non-empty directory.
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        },
        health=Health(
            command=("pg_isready", "--quiet", "--host", "127.0.0.1", "--username", _DB_USER, "--dbname", _DB_NAME),
            interval="15s", timeout="5s", retries=3, start_period="30s", start_interval="250ms",  # ready 1.5-1.9 s (initdb), 0.1 s
        ),
        resources=Resources(memory="512Mi", cpu="1"),
        state=State(path="/var/lib/postgresql/data", size="5Gi"),
        writable_paths=("/tmp", "/var/run/postgresql"),
        user="999:999",
        fs_group=999,
        opt_outs={OPT_OUT_UPSTREAM_UID: "the postgres image owns its data directory as UID 999 (postgres)"},
        external_secret="databaseUrl",
    ),
    ServiceSpec(
        name="redis",
        image="redis:7.4.5-bookworm",
        port=6379,
        command=("redis-server", "--appendonly", "yes", "--dir", "/data", "--save", "60", "1"),
        health=Health(
            command=("redis-cli", "-h", "127.0.0.1", "ping"),
            interval="15s", timeout="3s", retries=3, start_period="10s", start_interval="250ms",  # ready 0.07 s
        ),
        resources=Resources(memory="256Mi", cpu="250m"),
        state=State(path="/data", size="1Gi"),
        user="999:999",
        fs_group=999,
        opt_outs={OPT_OUT_UPSTREAM_UID: "the redis image owns /data as UID 999 (redis)"},
    ),
    ServiceSpec(
        name="migrations",
        image_of="backend",
        command=("python", "-m", "todo_api.migrate"),
        env={"DATABASE_URL": "{secret:database-url}", "LOG_LEVEL": "info"},
        resources=Resources(memory="256Mi", cpu="250m"),
        talks_to=("postgres",),
        one_shot=True,
    ),
    ServiceSpec(
        name="backend",
        build=Build(context="apps/backend", base_image="python:3.13-slim-bookworm"),
        port=8000,
        env={
            "DATABASE_URL": "{secret:database-url}",
            "REDIS_URL": "redis://{host:redis}:{port:redis}/0",
            "LOG_LEVEL": "info",
            "CACHE_TTL_SECONDS": "30",
        },
        health=Health(
            command=("python", "-m", "todo_api.healthcheck", "/readyz"),
            liveness_path="/livez",
            readiness_path="/readyz",
            interval="15s", timeout="5s", retries=3, start_period="20s", start_interval="250ms",  # ready 0.6 s
        ),
        resources=Resources(memory="512Mi", cpu="500m"),
        talks_to=("postgres", "redis"),
        starts_after=("migrations",),
        public=True,
    ),
    ServiceSpec(
        name="frontend",
        build=Build(context="apps/frontend", base_image="node:22-alpine"),
        port=3000,
        env={
            "BACKEND_URL": "http://{host:backend}:{port:backend}",
            "PORT": "3000",
            "HOSTNAME": "0.0.0.0",
        },
        health=Health(
            command=("node", "/app/healthcheck.js", "/api/health"),
            liveness_path="/api/health",
            readiness_path="/api/health",
            interval="15s", timeout="5s", retries=3, start_period="20s", start_interval="250ms",  # ready 0.3 s
        ),
        resources=Resources(memory="512Mi", cpu="500m"),
        writable_paths=("/tmp", "/app/.next/cache"),
        talks_to=("backend",),
        public=True,
    ),
)


def by_name(catalog: Iterable[ServiceSpec]) -> dict[str, ServiceSpec]:
    return {spec.name: spec for spec in catalog}


def built_service_names(catalog: Iterable[ServiceSpec]) -> set[str]:
    return {spec.name for spec in catalog if spec.build is not None}


def placeholders(value: str) -> list[tuple[str, str]]:
    """The (kind, name) pairs a template refers to, e.g. [("host", "redis")]."""
    return _PLACEHOLDER.findall(value)


def render_template(value: str, hosts: Mapping[str, str], ports: Mapping[str, int]) -> str:
    """Fill `{host:…}` and `{port:…}`; `{secret:…}` is left for the caller (it is an Output)."""

    def fill(match: re.Match) -> str:
        kind, name = match.groups()
        if kind == "host":
            return hosts[name]
        if kind == "port":
            return str(ports[name])
        return match.group(0)

    return _PLACEHOLDER.sub(fill, value)


def _dependency_problems(catalog: tuple[ServiceSpec, ...]) -> list[Problem]:
    names = by_name(catalog)
    problems = []
    for spec in catalog:
        for dependency in spec.depends_on:
            if dependency not in names:
                problems.append(Problem(
                    f"catalog.{spec.name}.dependsOn", dependency,
                    f"no such service; known: {', '.join(sorted(names))}",
                ))
        for kind, target in placeholders(" ".join(spec.env.values())):
            if kind in ("host", "port") and target not in names:
                problems.append(Problem(
                    f"catalog.{spec.name}.env", f"{{{kind}:{target}}}",
                    f"refers to no service; known: {', '.join(sorted(names))}",
                ))
    return problems


def _cycle_problems(catalog: tuple[ServiceSpec, ...]) -> list[Problem]:
    graph = {spec.name: set(spec.depends_on) for spec in catalog}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        return [Problem("catalog.dependsOn", cycle, "dependencies must not form a cycle")]
    return []


def _shape_problems(catalog: tuple[ServiceSpec, ...]) -> list[Problem]:
    problems = []
    names = by_name(catalog)
    for spec in catalog:
        sources = [spec.image, spec.build, spec.image_of]
        if sum(source is not None for source in sources) != 1:
            problems.append(Problem(f"catalog.{spec.name}.image", spec.image, "exactly one of image, build, image_of"))
        if spec.image_of is not None and spec.image_of in names and names[spec.image_of].build is None:
            problems.append(Problem(f"catalog.{spec.name}.imageOf", spec.image_of, "must name a service that is built"))
        if spec.long_running and spec.health is None:
            problems.append(Problem(f"catalog.{spec.name}.health", None, "a long-running service needs a health check"))
        if spec.port is not None and not 1 <= spec.port <= 65535:
            problems.append(Problem(f"catalog.{spec.name}.port", spec.port, "must be a port number from 1 to 65535"))
        for one_shot in spec.starts_after:
            if one_shot in names and not names[one_shot].one_shot:
                problems.append(Problem(f"catalog.{spec.name}.startsAfter", one_shot, "must name a one-shot service"))
    return problems


def _override_problems(catalog: tuple[ServiceSpec, ...], settings: Settings) -> list[Problem]:
    problems = []
    for spec in catalog:
        override = settings.service(spec.name)
        if override.image and spec.image is None:
            problems.append(Problem(
                f"services.{spec.name}.image", override.image,
                "only upstream images can be replaced; a built service takes dockyard:images.baseImages instead",
            ))
        if spec.one_shot and override.replicas != 1:
            problems.append(Problem(f"services.{spec.name}.replicas", override.replicas, "a one-shot service runs exactly once: 1"))
        if spec.state is not None and override.replicas != 1:
            problems.append(Problem(f"services.{spec.name}.replicas", override.replicas, "a stateful single-instance service runs 1 replica; use an external service to scale"))
    return problems


def _disabled_problems(catalog: tuple[ServiceSpec, ...], settings: Settings, configured_secrets: set[str]) -> list[Problem]:
    problems = []
    for spec in catalog:
        if settings.service(spec.name).enabled:
            continue
        users = [other.name for other in catalog if spec.name in other.depends_on and settings.service(other.name).enabled]
        if spec.external_secret is None and users:
            problems.append(Problem(
                f"services.{spec.name}.enabled", False,
                f"{', '.join(users)} need(s) {spec.name}, which has no external replacement",
            ))
        elif spec.external_secret is not None and spec.external_secret not in configured_secrets:
            problems.append(Problem(
                f"services.{spec.name}.enabled", False,
                f"an external {spec.name} needs the secret dockyard:{spec.external_secret} "
                f"(pulumi config set --secret {spec.external_secret} …)",
            ))
    return problems


def catalog_problems(catalog: tuple[ServiceSpec, ...], settings: Settings | None = None, configured_secrets: set[str] = frozenset()) -> list[Problem]:
    """Everything wrong with the catalog, alone and under these settings."""
    problems = _shape_problems(catalog) + _dependency_problems(catalog) + _cycle_problems(catalog)
    if settings is not None:
        problems += _override_problems(catalog, settings)
        problems += _disabled_problems(catalog, settings, configured_secrets)
    return problems


def start_order(catalog: Iterable[ServiceSpec]) -> list[str]:
    """Service names, dependencies first (stable: catalog order among peers)."""
    specs = list(catalog)
    sorter = TopologicalSorter({spec.name: set(spec.depends_on) for spec in specs})
    position = {spec.name: index for index, spec in enumerate(specs)}
    order: list[str] = []
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def enabled_catalog(catalog: tuple[ServiceSpec, ...], settings: Settings) -> tuple[ServiceSpec, ...]:
    """The services this stack runs, with settings' overrides applied and
    dependencies on disabled (external) services removed."""
    enabled = {spec.name for spec in catalog if settings.service(spec.name).enabled}
    resolved = []
    for spec in catalog:
        if spec.name not in enabled:
            continue
        override = settings.service(spec.name)
        resolved.append(replace(
            spec,
            image=override.image or spec.image if spec.image is not None else None,
            resources=Resources(
                memory=override.memory or spec.resources.memory,
                cpu=override.cpu or spec.resources.cpu,
            ),
            talks_to=tuple(name for name in spec.talks_to if name in enabled),
            starts_after=tuple(name for name in spec.starts_after if name in enabled),
        ))
    return tuple(resolved)


def talks_to_edges(catalog: Iterable[ServiceSpec]) -> set[tuple[str, str]]:
    """(client, server) pairs: exactly the network paths the catalog declares."""
    return {(spec.name, server) for spec in catalog for server in spec.talks_to}
