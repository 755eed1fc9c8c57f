/** Browser-side calls to this app's own route handlers (same origin; the backend URL stays on the server). */
import type { Todo, TodoUpdate } from "./types";

/** Error text for the user: the {detail} the route handler sent, flattened to a string. */
export function describeError(status: number, body: unknown): string {
  const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : undefined;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => (item && typeof item === "object" && "msg" in item ? String(item.msg) : String(item))).join("; ");
  }
  return `request failed (${status})`;
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, {
    ...init,
    headers: init?.body ? { "content-type": "application/json" } : undefined,
  });
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw new Error(describeError(response.status, body));
  return body as T;
}

export const todosClient = {
  list: () => call<Todo[]>("/api/todos", { cache: "no-store" }),
  create: (title: string) => call<Todo>("/api/todos", { method: "POST", body: JSON.stringify({ title }) }),
  update: (id: number, data: TodoUpdate) =>
    call<Todo>(`/api/todos/${id}`, { method: "PATCH", body: JSON.stringify(data) }),
  remove: (id: number) => call<void>(`/api/todos/${id}`, { method: "DELETE" }),
};
