"""Raw `dockyard:` config (keys without the namespace) into `Settings`: every section parsed on
its own, a refused value reported and replaced by its default, so the rules across sections
(settings_rules.py) still run and one report lists every problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from enum import Enum
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from components.config.field_errors import in_words
from components.config.fields import CamelModel
from components.config.settings import (
    SECRET_KEYS,
    SETTING_KEYS,
    DevSettings,
    ImageSettings,
    KubernetesSettings,
    PromotionSettings,
    ServiceSettings,
    Settings,
    StackKind,
    Target,
)
from components.config.settings_rules import cross_section_problems
from components.core.names import default_namespace
from components.core.problems import HIDDEN, OMITTED, Problem, distinct_problems

_Choice = TypeVar("_Choice", bound=Enum)
_Section = TypeVar("_Section", bound=CamelModel)


def _enum_problem(key: str, value: Any, enum: type[Enum]) -> Problem:
    allowed = ", ".join(member.value for member in enum)
    return Problem(key, value, f"must be one of: {allowed}")


def _parse_enum(
    raw: Mapping[str, Any], key: str, enum: type[_Choice], default: Any, problems: list[Problem]
) -> _Choice | None:
    value = raw.get(key, default)
    try:
        return enum(value)
    except (ValueError, TypeError):
        problems.append(_enum_problem(key, value, enum))
        return None


def _field_model(model: type[CamelModel], loc: tuple[str | int, ...]) -> type[CamelModel]:
    """The section model that owns the last key of `loc` (nested sections: ingress)."""
    for part in loc[:-1]:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, CamelModel)):
            break
        model = annotation
    return model


def _camel_suggestion(written: str, known: Iterable[str]) -> str | None:
    """The camelCase key meant by a snake_case spelling (`registry_username`), when it is one."""
    camel = to_camel(written)
    return camel if camel != written and camel in known else None


def _message(item: ErrorDetails, model: type[CamelModel]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        known = _field_model(model, item["loc"]).known_keys()
        if meant := _camel_suggestion(str(item["loc"][-1]), known):
            return f"unknown key: write {meant} (keys are camelCase, as in docs/configuration.md)"
        return f"unknown key (check the spelling); known: {', '.join(known)}"
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        keys = ", ".join(_field_model(model, (*item["loc"], "")).known_keys())
        return f"must be a map of settings; known keys: {keys}"
    return in_words(item, "is not a valid value here; see the README's configuration reference")


def _without(data: dict[str, Any], loc: tuple[str, ...]) -> dict[str, Any]:
    """`data` without the value at `loc` (so the section parses with that key's default)."""
    if not loc or loc[0] not in data:
        return data
    rest = {k: v for k, v in data.items() if k != loc[0]}
    inner = data[loc[0]]
    if len(loc) > 1 and isinstance(inner, Mapping) and loc[1] in inner:
        rest[loc[0]] = _without(dict(inner), loc[1:])
    return rest


def _parse_section(value: Any, key: str, model: type[_Section], problems: list[Problem]) -> _Section:
    """The section, with each refused value reported and replaced by its default."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        problems.append(Problem(key, value, f"must be a map of settings; known keys: {', '.join(model.known_keys())}"))
        return model()
    data = dict(value)
    while True:
        try:
            # By the camelCase keys only: the models take their snake_case field names too
            # (populate_by_name, for code), which no schema or doc shows.
            return model.model_validate(data, by_alias=True, by_name=False)
        except ValidationError as error:
            before = data
            for item in error.errors():
                loc = tuple(str(part) for part in item["loc"])
                shown_value = OMITTED if item["type"] == "extra_forbidden" else item.get("input")
                problems.append(Problem(".".join([key, *loc]), shown_value, _message(item, model)))
                data = _without(data, loc)
            if data == before:  # nothing left to take out: defaults for the whole section
                return model()


def _parse_services(section: Any, known: set[str], problems: list[Problem]) -> dict[str, ServiceSettings]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(Problem("services", section, "must be a map of service name to settings"))
        return {}
    services: dict[str, ServiceSettings] = {}
    for name, value in section.items():
        if name not in known:
            problems.append(Problem(f"services.{name}", OMITTED, f"unknown service; known: {', '.join(sorted(known))}"))
            continue
        services[name] = _parse_section(value, f"services.{name}", ServiceSettings, problems)
    return services


def _unknown_key_problems(raw: Mapping[str, Any], secret_keys: tuple[str, ...]) -> list[Problem]:
    # Secrets are read separately as Pulumi secrets; they reach this raw map only when
    # written in plain text, which is refused.
    known = (*SETTING_KEYS, *secret_keys)
    problems = []
    for key in raw:
        if key in known:
            continue
        if meant := _camel_suggestion(key, known):
            problems.append(Problem(key, OMITTED, f"unknown key: write {meant} (keys are camelCase)"))
        else:
            problems.append(Problem(key, OMITTED, f"unknown key; known: {', '.join(known)}"))
    return problems


def _plain_secret_problems(raw: Mapping[str, Any], secret_keys: tuple[str, ...]) -> list[Problem]:
    """Secrets reach this map only when the stack file holds them in plain text."""
    return [
        Problem(
            key,
            HIDDEN,
            (
                f"a secret must not be stored in plain text: run `pulumi config set --secret {key}` "
                "(it replaces the plain entry with an encrypted one), and rotate the value if the file was shared"
            ),
        )
        for key in secret_keys
        if key in raw
    ]


def _follow_monitoring(
    services: dict[str, ServiceSettings],
    monitors: AbstractSet[str],
    dev: DevSettings,
    kind: StackKind | None,
    problems: list[Problem],
) -> dict[str, ServiceSettings]:
    """The catalog's monitoring service runs exactly when dev.monitoring says so (on dev: a refused
    dev.monitoring elsewhere enables nothing that would be complained about again)."""
    for name in sorted(monitors):
        chosen = services.get(name, ServiceSettings())
        if "enabled" in chosen.model_fields_set:
            problems.append(
                Problem(
                    f"services.{name}.enabled",
                    chosen.enabled,
                    f"{name} is the monitoring service: it runs when dev.monitoring is true, so set that instead",
                )
            )
        services[name] = chosen.model_copy(update={"enabled": dev.monitoring and kind is StackKind.DEV})
    return services


def _kind_problems(stack: str, raw: Mapping[str, Any], kind: StackKind | None) -> list[Problem]:
    """A stack named after a kind is of that kind; any other name says which it is."""
    kinds = ", ".join(k.value for k in StackKind)
    if stack in {k.value for k in StackKind}:
        if kind is not None and kind.value != stack:
            return [
                Problem(
                    "kind",
                    kind.value,
                    (
                        f"the stack named '{stack}' is of kind {stack}; a second {kind.value} environment needs a stack"
                        f" of its own name (e.g. '{kind.value}-eu') with kind {kind.value}"
                    ),
                )
            ]
        return []
    if "kind" not in raw:
        return [
            Problem("kind", None, f"stack '{stack}' is not named after a kind: set dockyard:kind to one of {kinds}")
        ]
    return []


def _fallback_kind(stack: str) -> StackKind | None:
    return StackKind(stack) if stack in {k.value for k in StackKind} else None


def parse_settings(
    stack: str,
    raw: Mapping[str, Any],
    service_names: set[str],
    built_services: set[str],
    secret_keys: tuple[str, ...] = SECRET_KEYS,
    monitoring_services: AbstractSet[str] = frozenset(),
) -> tuple[Settings | None, list[Problem]]:
    """Parse raw `dockyard:` config (keys without the namespace).

    Returns the settings and every problem found. A refused value is replaced by its
    default so the rules across sections still run; the settings are None only when the
    stack's kind cannot be known. `validate` in components/plan/validate.py turns problems
    into one `SettingsError`.
    """
    problems = _unknown_key_problems(raw, secret_keys) + _plain_secret_problems(raw, secret_keys)
    kind = None
    if "kind" in raw or _fallback_kind(stack) is not None:
        kind = _parse_enum(raw, "kind", StackKind, _fallback_kind(stack), problems)
    problems += _kind_problems(stack, raw, kind)
    # A stack named after a kind is checked as that kind, even when `kind` contradicts it.
    kind = _fallback_kind(stack) or kind
    default_target = Target.DOCKER.value if kind in (StackKind.DEV, None) else Target.KUBERNETES.value
    target = _parse_enum(raw, "target", Target, default_target, problems) or Target(default_target)
    images = _parse_section(raw.get("images"), "images", ImageSettings, problems)
    dev = _parse_section(raw.get("dev"), "dev", DevSettings, problems)
    kubernetes = _parse_section(raw.get("kubernetes"), "kubernetes", KubernetesSettings, problems)
    if "namespace" not in kubernetes.model_fields_set:  # unset or refused: the stack's own
        kubernetes = kubernetes.model_copy(update={"namespace": default_namespace(stack)})
    promotion = _parse_section(raw.get("promotion"), "promotion", PromotionSettings, problems)
    services = _parse_services(raw.get("services", {}), service_names, problems)
    services = _follow_monitoring(services, monitoring_services, dev, kind, problems)
    if kind is None:
        return None, distinct_problems(problems)
    settings = Settings(
        stack=stack,
        kind=kind,
        target=target,
        images=images,
        services=services,
        dev=dev,
        kubernetes=kubernetes,
        promotion=promotion,
    )
    problems += cross_section_problems(settings, raw, built_services)
    return settings, distinct_problems(problems)
