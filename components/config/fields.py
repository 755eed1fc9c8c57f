"""The field types what people write is read through (stack settings, the catalog): each
refuses a value of the wrong YAML type in words, so no validator internals ("Input should
be …") reach a message; and `CamelModel`, the base of every model of a file or config."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


def yaml_hint(value: Any) -> str:
    kind = "true/false" if isinstance(value, bool) else "a number"
    return f'YAML read the value as {kind} ({value!r}): quote it in the stack file, e.g. "{value}"'


def flag(value: Any) -> bool:
    # `pulumi config set --path k true` stores the text "true": take it as the boolean.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def whole(value: Any) -> Any:
    """`80.0` is 80 (JSON Schema's \"integer\" says so too); 80.5 stays as it is, to be refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    # `pulumi config set --path k 3` stores the text "3".
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    value = whole(value)
    if not isinstance(value, int):
        raise ValueError("must be a whole number")
    return value


def text(value: Any) -> str:
    if isinstance(value, (bool, int, float)):
        raise ValueError(f"must be text; {yaml_hint(value)}")
    if not isinstance(value, str):
        raise ValueError("must be text (a single value, not a list or map)")
    return value


def quantity(value: Any) -> str:
    # `cpu: 1` or `memory: 1073741824` are quantities too; YAML reads them as numbers.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return text(value)


Flag = Annotated[bool, BeforeValidator(flag)]


Count = Annotated[int, BeforeValidator(whole_number)]


Text = Annotated[str, BeforeValidator(text)]


Quantity = Annotated[str, BeforeValidator(quantity)]


class CamelModel(BaseModel):
    """camelCase keys in the file, snake_case in code; unknown keys (typos) refused; immutable.
    The base of the settings' sections and of the catalog's models."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    @classmethod
    def known_keys(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items()]
