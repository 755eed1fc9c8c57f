"""/api/todos: list, create, read, update (PATCH), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from todo_api.models import Todo
from todo_api.schemas import TodoCreate, TodoOut, TodoUpdate
from todo_api.state import AppState

router = APIRouter(prefix="/api/todos", tags=["todos"])

# ids are PostgreSQL `integer`; anything outside that range cannot exist.
TodoId = Annotated[int, Path(ge=1, le=2**31 - 1, description="todo id (positive integer)")]
_todo_list = TypeAdapter(list[TodoOut])


def _state(request: Request) -> AppState:
    return request.app.state.todo


def _get_or_404(session: Session, todo_id: int) -> Todo:
    todo = session.get(Todo, todo_id)
    if todo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"todo {todo_id} not found")
    return todo


@router.get("", response_model=list[TodoOut])
def list_todos(request: Request) -> Response:
    state = _state(request)
    cached, key = state.cache.get_list()
    if cached is not None:
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    with state.transaction() as session:
        todos = session.scalars(select(Todo).order_by(Todo.id)).all()
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
        todo = _get_or_404(session, todo_id)
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
        session.delete(_get_or_404(session, todo_id))
    state.cache.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
