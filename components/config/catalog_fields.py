"""The catalog's field types and their grammars: each validator refuses a wrong value in words
the file's author can act on, and carries the same grammar as a JSON Schema pattern for
editors (catalog.schema.json)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, WithJsonSchema

from components.config.fields import whole
from components.core.durations import duration_nanos
from components.core.quantities import check_cpu, check_memory
from components.core.references import PINNED_REFERENCE_PATTERN, image_reference_problem

NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"  # a DNS label short enough for derived names


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


_CONFIG_KEY = r"^[a-z][A-Za-z0-9]*$"


MAX_ID = 2**31 - 1  # Kubernetes' bound on runAsUser, runAsGroup and fsGroup (int32)


# Text the program passes to a process (env values, arguments): no NUL (execve cannot carry
# one) and short enough that NAME=value stays under Linux's 128 KiB for one string, even at
# four UTF-8 bytes a character.
MAX_TEXT = 32_000


TEXT_PATTERN = r"^[^\x00]*$"


# Canonical absolute paths in the container: one spelling per path (no '.', '..', '//', or
# trailing '/'), not '/' itself, and no ':' (Kubernetes refuses it in a mountPath; Docker
# reads it as the start of mount options).
CONTAINER_PATH_PATTERN = r"^(/(?!\.\.?(/|$))[^/:\x00-\x1f]+)+$"


# A directory inside the project (or inside a build context): relative, no '..' that could
# leave it, no absolute path, no leading '~' (a home directory to a reader), '/' as the separator.
PROJECT_PATH_PATTERN = r"^(\.|(?![.~]\.?(/|$)|~)[^/\\:\x00-\x1f]+(/(?!\.\.?(/|$))[^/\\:\x00-\x1f]+)*)$"


URL_PATH_PATTERN = r"^/[^\s\x00-\x1f]*$"


def _decimal_up_to(limit: int) -> str:
    """A regexp of the whole numbers 1..limit written without leading zeros, so the schema
    bounds an id as the program does (a JSON Schema pattern cannot compare numbers)."""
    digits = str(limit)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]  # fewer digits than the limit
    for index, digit in enumerate(digits):
        low, high = (1 if index == 0 else 0), int(digit) - 1
        if high >= low:  # the limit's first `index` digits, one lower here, anything after
            parts.append(f"{digits[:index]}[{low}-{high}][0-9]{{{len(digits) - index - 1}}}")
    return f"(?:{'|'.join([*parts, digits])})"


_ID = _decimal_up_to(MAX_ID)


USER_PATTERN = f"^{_ID}(:{_ID})?$"


DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"


MEMORY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"


CPU_PATTERN = r"^(?!0+(\.0+)?m?$)([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$"  # above 0


REASON_PATTERN = r"^[^\x00]*\S[^\x00]*$"


IMAGE_PATTERN = PINNED_REFERENCE_PATTERN


PATTERN_WORDS = {
    NAME_PATTERN: "must be lower-case letters, digits and '-', starting with a letter (at most 40 characters)",
    _ENV_NAME: "must be an environment variable name: letters, digits and '_', not starting with a digit",
    _CONFIG_KEY: "must be a config key in camelCase: letters and digits, starting with a lower-case letter",
}


MEMORY_FLOOR_BYTES = 6 * 2**20  # as check_memory (Docker refuses a smaller limit)


def _duration(value: str) -> str:
    duration_nanos(value)  # raises ValueError naming the form
    return value


def _image(value: str) -> str:
    if problem := image_reference_problem(value):
        raise ValueError(problem)
    return value


def _user(value: str) -> str:
    """USER_PATTERN, in words for each way to miss it."""
    if not re.fullmatch(r"[0-9]+(:[0-9]+)?", value):
        raise ValueError('must be "uid" or "uid:gid" in numbers, e.g. "1000:1000" (quote it in YAML)')
    parts = value.split(":")
    if any(int(part) == 0 for part in parts):
        # runAsNonRoot: the kubelet refuses to start a container as UID 0; GID 0 is root's group.
        raise ValueError('must not be 0 (root): containers run as a non-root user and group, e.g. "1000:1000"')
    if any(part.startswith("0") for part in parts):
        raise ValueError('must be written without leading zeros, e.g. "1000:1000"')
    if any(int(part) > MAX_ID for part in parts):
        raise ValueError(f"each id must be at most {MAX_ID} (Kubernetes' limit)")
    return value


def _text_or_number(value: Any) -> Any:
    # `CACHE_TTL_SECONDS: 30` is what people write; a boolean would become "True", so quote it.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (bool, float)):
        raise ValueError(f"YAML read {value!r} as {'true/false' if isinstance(value, bool) else 'a number'}: quote it")
    return value


def _process_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("holds a NUL character, which no process can receive: remove it")
    if re.search("[\ud800-\udfff]", value):
        raise ValueError("holds an unpaired UTF-16 surrogate (an escape such as \\ud800): it is not text")
    if len(value) > MAX_TEXT:
        raise ValueError(
            f"is {len(value):,} characters long; at most {MAX_TEXT:,} (a process gets at most 128 KiB per value)"
        )
    return value


def _cpu_number(value: Any) -> Any:
    # `cpu: 1` and `cpu: 0.5` are quantities too (YAML reads numbers). Finer than a millicore
    # (`cpu: 0.0001`), Kubernetes would round it up: written as text, check_cpu refuses it saying so.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)).normalize(), "f")  # as written: 0.5 -> "0.5", 2.0 -> "2"


def _memory_number(value: Any) -> Any:
    # `memory: 536870912` is bytes; a fraction of a byte is not a quantity.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        raise ValueError("must be a memory quantity such as 512Mi, or a whole number of bytes")
    return value


def _memory(value: str) -> str:
    check_memory(value)
    return value


def _cpu(value: str) -> str:
    check_cpu(value)
    return value


def _matches(pattern: str, words: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(words)
        return value

    return check


def _schema(pattern: str, **extra: Any) -> WithJsonSchema:
    """What an editor checks: the grammar the validator uses, as a JSON Schema pattern."""
    return WithJsonSchema({"type": "string", "pattern": pattern, **extra})


_CONTAINER_PATH_WORDS = (
    "must be an absolute path in the container written once, e.g. /data: no '.', '..', '//',"
    " trailing '/' or ':', and not / itself"
)


_PROJECT_PATH_WORDS = (
    "must be a directory inside the project, relative to its root, e.g. apps/backend:"
    " not absolute, no '..' or leading '~', '/' as the separator"
)


Duration = Annotated[str, AfterValidator(_duration), _schema(DURATION_PATTERN)]


ImageRef = Annotated[str, AfterValidator(_image), _schema(IMAGE_PATTERN)]


User = Annotated[str, AfterValidator(_user), _schema(USER_PATTERN)]


EnvValue = Annotated[
    str,
    BeforeValidator(_text_or_number),
    AfterValidator(_process_text),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": TEXT_PATTERN, "maxLength": MAX_TEXT}, {"type": "integer"}]}
    ),
]


Argument = Annotated[str, AfterValidator(_process_text), _schema(TEXT_PATTERN, maxLength=MAX_TEXT)]


MemoryQuantity = Annotated[
    str,
    BeforeValidator(_memory_number),
    AfterValidator(_memory),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": MEMORY_PATTERN}, {"type": "integer", "minimum": MEMORY_FLOOR_BYTES}]}
    ),
]


CpuQuantity = Annotated[
    str,
    BeforeValidator(_cpu_number),
    AfterValidator(_cpu),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": CPU_PATTERN}, {"type": "number", "exclusiveMinimum": 0}]}),
]


ContainerPath = Annotated[
    str, AfterValidator(_matches(CONTAINER_PATH_PATTERN, _CONTAINER_PATH_WORDS)), _schema(CONTAINER_PATH_PATTERN)
]


ProjectPath = Annotated[
    str, AfterValidator(_matches(PROJECT_PATH_PATTERN, _PROJECT_PATH_WORDS)), _schema(PROJECT_PATH_PATTERN)
]


UrlPath = Annotated[
    str,
    AfterValidator(_matches(URL_PATH_PATTERN, "must be a URL path starting with '/', e.g. /healthz")),
    _schema(URL_PATH_PATTERN),
]


Reason = Annotated[
    str,
    AfterValidator(_process_text),
    AfterValidator(_matches(REASON_PATTERN, "must say why (an opt-out is reviewed by its reason): write the reason")),
    _schema(REASON_PATTERN, maxLength=MAX_TEXT),
]


# Whole numbers within bounds, each spelled out (a type checker reads an alias, not a call that
# builds one). The bounds go inside the before-validator: outside it, pydantic's schema would lose them.
Port = Annotated[StrictInt, Field(ge=1, le=65535), BeforeValidator(whole)]


GroupId = Annotated[StrictInt, Field(ge=1, le=MAX_ID), BeforeValidator(whole)]


Retries = Annotated[StrictInt, Field(ge=1), BeforeValidator(whole)]  # of a health check


SecretLength = Annotated[StrictInt, Field(ge=16, le=128), BeforeValidator(whole)]  # of a generated secret


ServiceName = Annotated[str, Field(pattern=NAME_PATTERN)]
