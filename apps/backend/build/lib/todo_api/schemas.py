"""Request and response bodies. Unknown fields are rejected (extra=forbid)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from todo_api.models import TITLE_MAX_LENGTH

# What a title may be: one line of text someone can read. Trimmed of surrounding whitespace;
# then 1..200 characters (code points, as PostgreSQL counts them), none of them a control
# character (NUL, which PostgreSQL cannot store, tab, newline, DEL, C1) or half of a UTF-16
# surrogate pair (not text, and not encodable as UTF-8), and at least one of them visible: a
# letter, digit, punctuation or symbol (emoji included), not only spaces, zero-width or
# combining characters.
_VISIBLE = ("L", "N", "P", "S")


def _unicode_problem(title: str) -> PydanticCustomError | None:
    categories = {unicodedata.category(char) for char in title}
    if "Cc" in categories:
        return PydanticCustomError("title_control_character", "title must not contain control characters (such as NUL, tab or newline)")
    if "Cs" in categories:
        return PydanticCustomError("title_surrogate", "title must be text: it contains half of a UTF-16 surrogate pair")
    if not any(category.startswith(_VISIBLE) for category in categories):
        return PydanticCustomError("title_invisible", "title must contain a visible character, not only spaces or zero-width characters")
    return None


def _clean_title(value: str) -> str:
    title = value.strip()
    if not title:
        raise PydanticCustomError("title_empty", "title must not be empty or only whitespace")
    if len(title) > TITLE_MAX_LENGTH:
        raise PydanticCustomError(
            "title_too_long",
            "title must be at most {max} characters (got {length})",
            {"max": TITLE_MAX_LENGTH, "length": len(title)},
        )
    if problem := _unicode_problem(title):
        raise problem
    return title


Title = Annotated[str, AfterValidator(_clean_title)]


class TodoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title
    completed: bool = False


class TodoUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Title | None = None
    completed: bool | None = None

    @model_validator(mode="after")
    def _needs_a_change(self) -> TodoUpdate:
        if not self.model_fields_set:
            raise PydanticCustomError(
                "empty_update", "body must set at least one of: title, completed"
            )
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise PydanticCustomError(
                    "null_field", "{field} must not be null", {"field": name}
                )
        return self


class TodoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    completed: bool
    created_at: datetime
    updated_at: datetime
