"""/api/todos: list, create, read, update (PATCH), delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import TypeAdapter
from sqlalchemy import Row, delete, insert, select, update

from todo_api.models import todos
from todo_api.schemas import TodoCreate, TodoOut, TodoUpdate
from todo_api.state import AppState

router = APIRouter(prefix="/api/todos", tags=["todos"])

# ids are PostgreSQL `integer`; anything outside that range cannot exist.
TodoId = Annotated[int, Path(ge=1, le=2**31 - 1, description="todo id (positive integer)")]
# The list is paged: `limit` todos (default DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE) from
# `offset`, ordered by id; a page shorter than `limit` is the last one.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"todos per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})")]
# Bounded as ids are: PostgreSQL refuses an OFFSET past bigint, and no page starts further.
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="todos to skip (default 0)")]
_todo_list = TypeAdapter(list[TodoOut])


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.todo  # Starlette's State holds attributes as Any
    return state


def _found(row: Row[Any] | None, todo_id: int) -> TodoOut:
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    return TodoOut.model_validate(row)


@router.get("", response_model=list[TodoOut])
def list_todos(request: Request, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0) -> Response:
    """A page of todos ordered by id: `limit` of them (default 100, at most 500) from
    `offset` (default 0). A page shorter than `limit` is the last one."""
    state = _state(request)
    cached, key = state.cache.get_list(offset, limit)
    if cached is not None:
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    with state.transaction() as connection:
        rows = connection.execute(select(todos).order_by(todos.c.id).offset(offset).limit(limit)).all()
    payload = _todo_list.dump_json([TodoOut.model_validate(row) for row in rows])
    state.cache.put_list(key, payload)
    return Response(payload, media_type="application/json", headers={"X-Cache": "miss"})


@router.post("", response_model=TodoOut, status_code=status.HTTP_201_CREATED)
def create_todo(body: TodoCreate, request: Request, response: Response) -> TodoOut:
    state = _state(request)
    with state.transaction() as connection:
        row = connection.execute(
            insert(todos).values(title=body.title, completed=body.completed).returning(*todos.c)
        ).one()
        # Inside the transaction: a failure before the answer is built leaves no row behind.
        out = TodoOut.model_validate(row)
    state.cache.invalidate()
    response.headers["Location"] = f"/api/todos/{out.id}"
    return out


@router.get("/{todo_id}", response_model=TodoOut)
def read_todo(todo_id: TodoId, request: Request) -> TodoOut:
    with _state(request).transaction() as connection:
        row = connection.execute(select(todos).where(todos.c.id == todo_id)).first()
    return _found(row, todo_id)


@router.patch("/{todo_id}", response_model=TodoOut)
def update_todo(todo_id: TodoId, body: TodoUpdate, request: Request) -> TodoOut:
    """Sets the fields the body names (every PATCH is a write: `updated_at` moves)."""
    state = _state(request)
    changes = body.model_dump(exclude_unset=True)
    with state.transaction() as connection:
        # One statement: a concurrent DELETE has either committed first (no row: 404) or waits.
        row = connection.execute(
            update(todos).where(todos.c.id == todo_id).values(**changes).returning(*todos.c)
        ).first()
        out = _found(row, todo_id)
    state.cache.invalidate()
    return out


@router.delete("/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: TodoId, request: Request) -> Response:
    state = _state(request)
    with state.transaction() as connection:
        # One statement: of two concurrent deletes of a todo, one deletes it, the other is a 404.
        deleted = connection.execute(delete(todos).where(todos.c.id == todo_id).returning(todos.c.id)).first()
    if deleted is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    state.cache.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
