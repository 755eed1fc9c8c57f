/** Browser-side calls to this app's own route handlers (same origin; the backend URL stays on the server). */
import type { Todo, TodoCount, TodoUpdate } from "./types";

/** Error text for the user: the {detail} the route handler sent, flattened to a string; a server
 * error (the backend down, slow or failing) says so and that trying again is the way out. */
export function describeError(status: number, body: unknown): string {
  const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : undefined;
  let text = `request failed (${status})`;
  if (typeof detail === "string") text = detail;
  else if (Array.isArray(detail)) {
    text = detail.map((item) => (item && typeof item === "object" && "msg" in item ? String(item.msg) : String(item))).join("; ");
  }
  if (status >= 500) return `The todo service is not available right now (${text}). Nothing was changed; try again.`;
  return text;
}

/** An answer other than 2xx: the status, and the message for the user. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** When the request never got an answer (this app's server is down, or the network). */
export const UNREACHABLE = "This app's server did not answer. Check your connection and try again.";

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      ...init,
      headers: init?.body ? { "content-type": "application/json" } : undefined,
    });
  } catch {
    throw new Error(UNREACHABLE);
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(response.status, describeError(response.status, body));
  return body as T;
}

export const todosClient = {
  list: (offset: number, limit: number) =>
    call<Todo[]>(`/api/todos?offset=${offset}&limit=${limit}`, { cache: "no-store" }),
  count: () => call<TodoCount>("/api/todos/count", { cache: "no-store" }),
  create: (title: string) => call<Todo>("/api/todos", { method: "POST", body: JSON.stringify({ title }) }),
  update: (id: number, data: TodoUpdate) =>
    call<Todo>(`/api/todos/${id}`, { method: "PATCH", body: JSON.stringify(data) }),
  remove: (id: number) => call<void>(`/api/todos/${id}`, { method: "DELETE" }),
};
