"""What catalog.yaml may not say even when every field is well formed: image sources,
health, edges and ports, cycles, templates that reach beyond talksTo, and secrets."""

from __future__ import annotations

from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter

from components.catalog import (
    ANY_PLACEHOLDER,
    Catalog,
    built_service_names,
    secret_references,
)
from components.quantities import memory_bytes
from components.settings import OMITTED, SECRET_KEYS, SETTING_KEYS, Problem


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _shape_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    names = catalog.by_name()
    for spec in catalog.services:
        key = f"services.{spec.name}"
        sources = [spec.image, spec.build, spec.image_of]
        if sum(source is not None for source in sources) != 1:
            problems.append(Problem(key, OMITTED, "needs exactly one of image (upstream), build (this repo), imageOf (a built service's image)"))
        if spec.image_of is not None and spec.image_of not in unparsed and (spec.image_of not in names or names[spec.image_of].build is None):
            problems.append(Problem(f"{key}.imageOf", spec.image_of, f"must name a built service: {_known(built_service_names(catalog.services))}"))
        if spec.long_running and spec.health is None:
            problems.append(Problem(f"{key}.health", OMITTED, "a long-running service needs a health check (or oneShot: true)"))
        if spec.one_shot and (spec.public or spec.state):
            problems.append(Problem(f"{key}.oneShot", True, "a one-shot service is neither public nor stateful"))
        if spec.public and spec.port is None:
            problems.append(Problem(f"{key}.public", True, "a public service needs a port"))
        if spec.health and (spec.health.liveness_path or spec.health.readiness_path) and spec.port is None:
            problems.append(Problem(f"{key}.health", OMITTED, "HTTP probe paths need a port"))
        if spec.state and memory_bytes(spec.state.size) < 2**20:
            problems.append(Problem(f"{key}.state.size", spec.state.size, "must be at least 1Mi, e.g. 1Gi"))
    return problems


def _edge_problems(catalog: Catalog, unparsed: frozenset[str]) -> list[Problem]:
    problems = []
    names = catalog.by_name()
    for spec in catalog.services:
        for field_name, targets in (("talksTo", spec.talks_to), ("startsAfter", spec.starts_after)):
            for index, target in enumerate(targets):
                key = f"services.{spec.name}.{field_name}.{index}"
                if target in unparsed:
                    continue
                if target in targets[:index]:
                    problems.append(Problem(key, target, f"is already in {field_name}: name each service once"))
                    continue
                if target not in names or target == spec.name:
                    problems.append(Problem(key, target, f"must name another service: {_known(set(names) - {spec.name})}"))
                elif field_name == "startsAfter" and not names[target].one_shot:
                    problems.append(Problem(key, target, "must name a one-shot service"))
                elif field_name == "talksTo" and names[target].port is None:
                    # A NetworkPolicy rule without a port would open every port.
                    problems.append(Problem(key, target, f"{target} has no port to talk to; talk to services with a port"))
    return problems


def _cycle_problems(catalog: Catalog) -> list[Problem]:
    graph = {spec.name: set(spec.depends_on) for spec in catalog.services}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return [Problem("services", " -> ".join(error.args[1]), "talksTo and startsAfter must not form a cycle")]
    return []


def _template_problems(
    key: str, value: str, talks_to: Iterable[str] | None, catalog: Catalog, unparsed: frozenset[str],
) -> list[Problem]:
    """Placeholders that name nothing, or a service the owner does not talk to (Kubernetes'
    default-deny NetworkPolicy would block what Docker lets through)."""
    names = catalog.by_name()
    problems, unreached = [], []
    for kind, name in ANY_PLACEHOLDER.findall(value):
        if kind not in ("host", "port", "secret"):
            problems.append(Problem(key, value, f"{{{kind}:{name}}} is not a placeholder: use {{host:svc}}, {{port:svc}} or {{secret:name}}"))
    for kind, name in secret_references(value, catalog.secrets):
        if name in unparsed:
            continue
        if kind == "secret" and name not in catalog.secrets:
            problems.append(Problem(key, value, f"{{secret:{name}}} names no secret; declared: {_known(catalog.secrets)}"))
        elif kind in ("host", "port") and name not in names:
            problems.append(Problem(key, value, f"{{{kind}:{name}}} names no service; known: {_known(names)}"))
        elif kind == "port" and names[name].port is None:
            problems.append(Problem(key, value, f"{{port:{name}}}: {name} has no port"))
        elif kind in ("host", "port") and talks_to is not None and name not in talks_to:
            unreached.append(name)
    for name in dict.fromkeys(unreached):  # once per service, whether named by host or port
        problems.append(Problem(key, value, f"reaches {name}, which is not in talksTo: add it there (NetworkPolicies allow only talksTo)"))
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
            problems.append(Problem(f"{key}.config", secret.config, "is a key of the program's own settings: choose another"))
        elif secret.config in configs:
            problems.append(Problem(f"{key}.config", secret.config, f"is already the config key of secret {configs[secret.config]}"))
        elif secret.config:
            configs[secret.config] = name
        if secret.template:
            problems += _template_problems(f"{key}.template", secret.template, None, catalog, unparsed)
            if ("secret", name) in secret_references(secret.template, catalog.secrets):
                problems.append(Problem(f"{key}.template", secret.template, "must not use itself"))
    return problems


def catalog_problems(catalog: Catalog, unparsed: frozenset[str] = frozenset()) -> list[Problem]:
    """Everything wrong with the catalog on its own (settings are checked in stack_checks).
    `unparsed`: services the file names whose fields were refused; references to them are
    not reported again."""
    problems = (
        _shape_problems(catalog, unparsed) + _edge_problems(catalog, unparsed)
        + _cycle_problems(catalog) + _secret_problems(catalog, unparsed)
    )
    for spec in catalog.services:
        for env_name, value in spec.env.items():
            problems += _template_problems(f"services.{spec.name}.env.{env_name}", value, spec.talks_to, catalog, unparsed)
    return problems
