"""/api/todos: list, create, read, update (PATCH), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import TypeAdapter
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from todo_api.models import Todo
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
    return request.app.state.todo


def _get_or_404(session: Session, todo_id: int, *, for_update: bool = False) -> Todo:
    # FOR UPDATE when it will be changed: a concurrent DELETE either waits for this
    # transaction or has committed first, and then this is a 404 (not an UPDATE of no row).
    todo = session.get(Todo, todo_id, with_for_update=for_update)
    if todo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    return todo


@router.get("", response_model=list[TodoOut])
def list_todos(request: Request, limit: Limit = DEFAULT_PAGE_SIZE, offset: Offset = 0) -> Response:
    """A page of todos ordered by id: `limit` of them (default 100, at most 500) from
    `offset` (default 0). A page shorter than `limit` is the last one."""
    state = _state(request)
    cached, key = state.cache.get_list(offset, limit)
    if cached is not None:
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    with state.transaction() as session:
        todos = session.scalars(select(Todo).order_by(Todo.id).offset(offset).limit(limit)).all()
        payload = _todo_list.dump_json([TodoOut.model_validate(t) for t in todos])
    state.cache.put_list(key, payload)
    return Response(payload, media_type="application/json", headers={"X-Cache": "miss"})


@router.post("", response_model=TodoOut, status_code=status.HTTP_201_CREATED)
def create_todo(body: TodoCreate, request: Request, response: Response) -> TodoOut:
    state = _state(request)
    with state.transaction() as session:
        todo = Todo(title=body.title, completed=body.completed)
        session.add(todo)
        session.flush()
        session.refresh(todo)
        out = TodoOut.model_validate(todo)
    state.cache.invalidate()
    response.headers["Location"] = f"/api/todos/{out.id}"
    return out


@router.get("/{todo_id}", response_model=TodoOut)
def read_todo(todo_id: TodoId, request: Request) -> TodoOut:
    with _state(request).transaction() as session:
        return TodoOut.model_validate(_get_or_404(session, todo_id))


@router.patch("/{todo_id}", response_model=TodoOut)
def update_todo(todo_id: TodoId, body: TodoUpdate, request: Request) -> TodoOut:
    state = _state(request)
    with state.transaction() as session:
        todo = _get_or_404(session, todo_id, for_update=True)
        for field, value in body.model_dump(exclude_unset=True).items():
            setattr(todo, field, value)
        session.flush()
        session.refresh(todo)
        out = TodoOut.model_validate(todo)
    state.cache.invalidate()
    return out


@router.delete("/{todo_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_todo(todo_id: TodoId, request: Request) -> Response:
    state = _state(request)
    with state.transaction() as session:
        # One statement: of two concurrent deletes of a todo, one deletes it, the other is a 404.
        deleted = session.execute(delete(Todo).where(Todo.id == todo_id).returning(Todo.id)).first()
    if deleted is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    state.cache.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
