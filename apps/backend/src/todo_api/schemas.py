"""Request and response bodies. Unknown fields are rejected (extra=forbid)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from todo_api.models import TITLE_MAX_LENGTH


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
