"use client";

import { useCallback, useEffect, useState, type FormEvent } from "react";
import { todosClient } from "@/lib/todos-client";
import type { Todo } from "@/lib/types";
import { TITLE_MAX_LENGTH } from "@/lib/validation";

export default function TodoApp() {
  const [todos, setTodos] = useState<Todo[]>([]);
  const [title, setTitle] = useState("");
  // null until the first list arrives, so a failed first load shows no (empty) list.
  const [loaded, setLoaded] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Runs one action, showing its error instead of throwing into React.
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }, []);

  const reload = useCallback(
    () =>
      run(async () => {
        setTodos(await todosClient.list());
        setLoaded(true);
      }).finally(() => setLoaded((current) => current ?? false)),
    [run],
  );

  useEffect(() => {
    void reload();
  }, [reload]);

  function add(event: FormEvent) {
    event.preventDefault();
    void run(async () => {
      const created = await todosClient.create(title);
      setTodos((current) => [...current, created]);
      setTitle("");
    });
  }

  function toggle(todo: Todo) {
    void run(async () => {
      const updated = await todosClient.update(todo.id, { completed: !todo.completed });
      setTodos((current) => current.map((t) => (t.id === updated.id ? updated : t)));
    });
  }

  function remove(todo: Todo) {
    void run(async () => {
      await todosClient.remove(todo.id);
      setTodos((current) => current.filter((t) => t.id !== todo.id));
    });
  }

  const remaining = todos.filter((t) => !t.completed).length;

  return (
    <section className="card">
      <form onSubmit={add} className="add">
        <input
          aria-label="New todo"
          placeholder="What needs doing?"
          value={title}
          maxLength={TITLE_MAX_LENGTH}
          onChange={(e) => setTitle(e.target.value)}
          disabled={busy}
        />
        <button type="submit" disabled={busy || title.trim() === ""}>
          Add
        </button>
      </form>

      {error && (
        <p role="alert" className="error">
          {error}{" "}
          <button type="button" onClick={() => void reload()}>
            Retry
          </button>
        </p>
      )}

      {loaded === null ? (
        <p className="muted">Loading…</p>
      ) : !loaded ? null : todos.length === 0 ? (
        <p className="muted">Nothing to do.</p>
      ) : (
        <ul className="todos">
          {todos.map((todo) => (
            <li key={todo.id} className={todo.completed ? "done" : undefined}>
              <label>
                <input type="checkbox" checked={todo.completed} onChange={() => toggle(todo)} disabled={busy} />
                <span>{todo.title}</span>
              </label>
              <button type="button" aria-label={`Delete ${todo.title}`} onClick={() => remove(todo)} disabled={busy}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {loaded && <p className="muted">{remaining} left</p>}
    </section>
  );
}
