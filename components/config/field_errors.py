"""Validation errors of the settings' and the catalog's models in words: one translator for
both, so a value refused in either reads the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MESSAGES = {
    "int_type": "must be a whole number, unquoted",
    "int_parsing": "must be a whole number, unquoted",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a map",
    "model_type": "must be a map of fields",
    "model_attributes_type": "must be a map of fields",
}


def in_words(item: Mapping[str, Any], fallback: str, pattern_words: Mapping[str, str] | None = None) -> str:
    """One pydantic error item in words the file's author can act on (the validators' own
    wording never reaches the user); `fallback` for a kind without words of its own."""
    kind, ctx = item["type"], item.get("ctx", {})
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} entr{'y' if ctx['min_length'] == 1 else 'ies'}"
    if kind == "string_pattern_mismatch":
        return (pattern_words or {}).get(ctx["pattern"], f"must match {ctx['pattern']}")
    if kind == "literal_error":
        return f"must be one of: {ctx['expected']}"
    return _MESSAGES.get(kind, fallback)
