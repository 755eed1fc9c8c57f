"""What catalog.yaml may not say even when every field is well formed: image sources,
health, edges and ports, cycles, templates that reach beyond talksTo, secrets, and what the
program would derive from it that collides (object names, mounts, env variables: derived_rules.py).

Every rule is one pass over the services with the catalog's indexes built once, so a
10,000-service catalog is checked in linear time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter

from components.config.catalog import Catalog, Health, ServiceSpec, built_service_names
from components.config.derived_rules import derived_problems
from components.config.dev_loop_rules import dev_loop_problems
from components.config.settings import SECRET_KEYS, SETTING_KEYS
from components.config.templates import placeholders, secret_names, template_grammar_problems
from components.core.durations import duration_nanos
from components.core.problems import OMITTED, Problem
from components.core.quantities import memory_bytes

KNOWN_SHOWN = 10  # names listed in a message before "… (N in all)"


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
            problems += _health_problems(spec, spec.health, f"{key}.health")
        if spec.state and memory_bytes(spec.state.size) < 2**20:
            problems.append(Problem(f"{key}.state.size", spec.state.size, "must be at least 1Mi, e.g. 1Gi"))
        problems += _storage_problems(spec, key)
    return problems


MIN_HEALTH_NANOS = 10**6  # Docker refuses a health-check duration under 1ms ("cannot be less than 1ms")


def _timing_problems(health: Health, key: str) -> list[Problem]:
    """Durations Docker refuses (under 1ms) or replaces: a zero interval, timeout or
    startInterval means "the engine's default" to Docker (30s, 30s, 5s), not zero. startPeriod
    may be 0 (no grace)."""
    problems = []
    timings = {
        "interval": health.interval, "timeout": health.timeout,
        "startInterval": health.start_interval, "startPeriod": health.start_period,
    }  # fmt: skip
    for name, text in timings.items():
        nanos = duration_nanos(text)
        if nanos == 0 and name == "startPeriod":
            continue
        if nanos == 0:
            why = "must be at least 1ms: Docker reads 0 as its own default (30s, or 5s for startInterval)"
        elif nanos < MIN_HEALTH_NANOS:
            why = "must be at least 1ms: Docker refuses a shorter health-check duration"
        else:
            continue
        problems.append(Problem(f"{key}.{name}", text, f"{why}, e.g. 250ms or 10s"))
    return problems


def _health_problems(spec: ServiceSpec, health: Health, key: str) -> list[Problem]:
    """Each check is a path or a command; a path needs a port, and the readiness check's path a
    client that Docker runs it with; liveness is not readiness (a dependency's outage would
    restart the service)."""
    problems: list[Problem] = []
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
    problems += _timing_problems(health, key)
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


def _secret_reach(catalog: Catalog) -> dict[str, frozenset[str]]:
    """Per secret, the services its template reaches by `{host:…}` or `{port:…}`, itself or
    through the secrets it uses. Each secret is visited once, dependencies first, with an explicit
    stack: a template chain as long as the catalog allows is one linear pass, not a walk down the
    chain per secret (quadratic) nor a recursion. A cycle (refused by _secret_cycle_problems) is
    cut where it closes."""
    reach: dict[str, frozenset[str]] = {}
    for start in catalog.secrets:
        entered: set[str] = set()
        pending = [(start, False)]
        while pending:
            name, expanded = pending.pop()
            if name in reach:
                continue
            found = placeholders(catalog.secrets[name].template or "")
            if expanded:
                services = {used for kind, used in found if kind in ("host", "port")}
                for kind, used in found:
                    if kind == "secret" and used in reach:
                        services |= reach[used]
                reach[name] = frozenset(services)
                continue
            if name in entered:
                continue
            entered.add(name)
            pending.append((name, True))
            pending += [(used, False) for kind, used in found if kind == "secret" and used in catalog.secrets]
    return reach


def _template_problems(
    key: str,
    value: str,
    talks_to: Sequence[str] | None,
    catalog: Catalog,
    unparsed: frozenset[str],
    reach: Mapping[str, frozenset[str]],
) -> list[Problem]:
    """Text that looks like a placeholder and is not one, placeholders that name nothing, or
    a service the owner does not talk to, named here or through a secret's template
    (Kubernetes' default-deny NetworkPolicy would block what Docker lets through). A secret's
    own template is checked at `secrets.<name>.template`, once, not again through each user."""
    problems = [Problem(key, value, why) for why in template_grammar_problems(value)]
    names = catalog.by_name()
    unreached: list[str] = []
    for kind, name in placeholders(value):
        if name in unparsed:
            continue
        if why := _reference_problem(catalog, kind, name):
            problems.append(Problem(key, value, why))
        elif talks_to is not None:
            reached = [name] if kind in ("host", "port") else sorted(reach.get(name, ()))
            unreached += [
                service
                for service in reached
                if service in names and service not in unparsed and service not in talks_to
            ]
    for name in dict.fromkeys(unreached):  # once per service, whether named by host or port
        problems.append(
            Problem(
                key,
                value,
                f"reaches {name}, which is not in talksTo: add it there (NetworkPolicies allow only talksTo)",
            )
        )
    return problems


def _secret_cycle_problems(catalog: Catalog) -> list[Problem]:
    """A secret whose template uses itself, directly or through others, named with the cycle."""
    graph = {
        name: {used for used in secret_names(secret.template or "") if used in catalog.secrets}
        for name, secret in catalog.secrets.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        cycle = list(reversed(error.args[1]))  # graphlib lists each user after what it uses
        return [
            Problem(
                f"secrets.{cycle[0]}.template",
                catalog.secrets[cycle[0]].template or OMITTED,
                f"must not use itself, directly or through other secrets: {' -> '.join(cycle)} (each uses the next)",
            )
        ]
    return []


def _secret_problems(
    catalog: Catalog, unparsed: frozenset[str], reach: Mapping[str, frozenset[str]]
) -> list[Problem]:
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
            problems += _template_problems(f"{key}.template", secret.template, None, catalog, unparsed, reach)
    return problems + _secret_cycle_problems(catalog)


def catalog_problems(catalog: Catalog, unparsed: frozenset[str] = frozenset()) -> list[Problem]:
    """Everything wrong with the catalog on its own (settings are checked in plan/stack_rules.py).
    `unparsed`: services the file names whose fields were refused; references to them are
    not reported again."""
    reach = _secret_reach(catalog)
    problems = (
        _shape_problems(catalog, unparsed)
        + _edge_problems(catalog, unparsed)
        + _cycle_problems(catalog)
        + _secret_problems(catalog, unparsed, reach)
        + derived_problems(catalog)
        + dev_loop_problems(catalog)
    )
    for spec in catalog.services:
        for env_name, value in spec.env.items():
            problems += _template_problems(
                f"services.{spec.name}.env.{env_name}", value, spec.talks_to, catalog, unparsed, reach
            )
    return problems
