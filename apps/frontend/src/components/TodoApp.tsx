"use client";

import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { PAGE_SIZE, clampOffset, focusAfterRemoval, lastPageOffset, pageView, rangeLabel } from "@/lib/paging";
import { ApiError, todosClient } from "@/lib/todos-client";
import type { Todo, TodoCount } from "@/lib/types";

/** A page to show: an offset, or the last page (where a new todo, the highest id, lands). */
type Where = number | "last";

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export default function TodoApp() {
  // One page of the API's list, in id order, and where it starts.
  const [todos, setTodos] = useState<Todo[]>([]);
  const [offset, setOffset] = useState(0);
  const [count, setCount] = useState<TodoCount>({ total: 0, remaining: 0 });
  const [title, setTitle] = useState("");
  // null until the first list arrives, so a failed first load shows no (empty) list.
  const [loaded, setLoaded] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  // The form's own error (the API refused the title) sits next to the form; the rest above the list.
  const [formError, setFormError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const focusRowAfterLoad = useRef<number | null>(null);
  // What the queued actions read when they run (their closures may predate earlier actions).
  const offsetNow = useRef(0);
  const todosNow = useRef<Todo[]>([]);
  const queue = useRef<Promise<void>>(Promise.resolve());
  const pending = useRef(0);

  // Actions run one after the other, in the order a person asked for them: none is dropped (an
  // Add pressed while the list still loads runs after it), and their errors are shown instead of
  // thrown into React. Controls stay enabled meanwhile: disabling the focused one would drop
  // keyboard focus.
  const run = useCallback((action: () => Promise<void>) => {
    pending.current += 1;
    setBusy(true);
    queue.current = queue.current.then(async () => {
      setError(null);
      setFormError(null);
      try {
        await action();
      } catch (err) {
        setError(messageOf(err));
      } finally {
        pending.current -= 1;
        if (pending.current === 0) setBusy(false);
      }
    });
    return queue.current;
  }, []);

  // A known page and the count side by side (one round trip on the first load); the count says
  // which pages exist: the last page needs it first, and a page a delete emptied is asked again
  // at the offset that still has todos.
  const show = useCallback(async (where: Where) => {
    const [counted, asked] = await Promise.all([
      todosClient.count(),
      where === "last" ? Promise.resolve(null) : todosClient.list(where, PAGE_SIZE),
    ]);
    const at = where === "last" ? lastPageOffset(counted.total) : clampOffset(where, counted.total);
    const page = asked !== null && at === where ? asked : await todosClient.list(at, PAGE_SIZE);
    offsetNow.current = at;
    todosNow.current = page;
    setCount(counted);
    setOffset(at);
    setTodos(page);
    setLoaded(true);
  }, []);

  const load = useCallback(
    (where: Where) => run(() => show(where)).finally(() => setLoaded((current) => current ?? false)),
    [run, show],
  );

  useEffect(() => {
    void load(0);
  }, [load]);

  // After a delete, focus moves to the row that took the deleted one's place, so a keyboard user
  // goes on from where they were (the deleted row's button is gone).
  useEffect(() => {
    const index = focusRowAfterLoad.current;
    if (index === null) return;
    focusRowAfterLoad.current = null;
    const rows = list.current?.querySelectorAll<HTMLInputElement>("li input[type=checkbox]") ?? [];
    const target = focusAfterRemoval(index, rows.length);
    (target < 0 ? input.current : rows[target])?.focus();
  }, [todos]);

  function add(event: FormEvent) {
    event.preventDefault();
    const typed = title;
    void run(async () => {
      try {
        await todosClient.create(typed);
      } catch (err) {
        setFormError(messageOf(err));
        return;
      }
      setTitle((current) => (current === typed ? "" : current));
      await show("last");
    });
  }

  function toggle(todo: Todo) {
    void run(async () => {
      // As it is now: a second click queued behind the first toggles back.
      const current = todosNow.current.find((t) => t.id === todo.id) ?? todo;
      const updated = await todosClient.update(todo.id, { completed: !current.completed });
      todosNow.current = todosNow.current.map((t) => (t.id === updated.id ? updated : t));
      setTodos(todosNow.current);
      setCount(await todosClient.count());
    });
  }

  function remove(todo: Todo, index: number) {
    void run(async () => {
      try {
        await todosClient.remove(todo.id);
      } catch (err) {
        // Already gone (a second click queued behind the first): what was asked for.
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      focusRowAfterLoad.current = index;
      await show(offsetNow.current);
    });
  }

  const view = pageView(offset, todos.length, count.total);
  const go = (target: number | null) => {
    if (target !== null) void load(target);
  };

  return (
    <section className="card" aria-busy={busy}>
      <form onSubmit={add} className="add" noValidate>
        <input
          ref={input}
          aria-label="New todo"
          placeholder="What needs doing?"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          aria-invalid={formError ? true : undefined}
          aria-describedby={formError ? "add-error" : undefined}
        />
        <button type="submit">Add</button>
      </form>
      {formError && (
        <p id="add-error" role="alert" className="error">
          {formError}
        </p>
      )}

      {error && (
        <p role="alert" className="error">
          {error}{" "}
          <button type="button" onClick={() => void load(offset)}>
            Retry
          </button>
        </p>
      )}

      {loaded === null ? (
        <p className="muted">Loading…</p>
      ) : !loaded ? null : (
        <>
          <p className="muted" role="status">
            {rangeLabel(view)}
          </p>
          {todos.length > 0 && (
            <ul className="todos" ref={list} aria-label="Todos">
              {todos.map((todo, index) => (
                <li key={todo.id} className={todo.completed ? "done" : undefined} data-id={todo.id}>
                  <label>
                    <input type="checkbox" checked={todo.completed} onChange={() => toggle(todo)} />
                    <span>{todo.title}</span>
                  </label>
                  <button type="button" aria-label={`Delete ${todo.title}`} onClick={() => remove(todo, index)}>
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
          {view.pages > 1 && (
            // aria-disabled, not disabled: a focused button that became disabled would lose focus.
            <nav className="pager" aria-label="Pages">
              <button type="button" aria-disabled={view.previousOffset === null} onClick={() => go(view.previousOffset)}>
                Previous
              </button>
              <span>
                Page {view.page} of {view.pages}
              </span>
              <button type="button" aria-disabled={view.nextOffset === null} onClick={() => go(view.nextOffset)}>
                Next
              </button>
            </nav>
          )}
          {count.total > 0 && <p className="muted">{count.remaining} left</p>}
        </>
      )}
    </section>
  );
}
