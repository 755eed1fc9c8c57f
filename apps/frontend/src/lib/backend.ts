/**
 * Client for the FastAPI backend, used only on the server (route handlers).
 * Every failure becomes a BackendError carrying the HTTP status the browser should see.
 */
import { readBackendConfig, type BackendConfig } from "./config";
import type { Todo, TodoCount, TodoCreate, TodoUpdate } from "./types";
import { MAX_PAGE_SIZE, type PageQuery } from "./validation";

export class BackendError extends Error {
  constructor(
    /** Status for our own response: the backend's 4xx, or 502/504 for upstream failures. */
    readonly status: number,
    /** JSON-serialisable detail, passed through from the backend for its 4xx answers. */
    readonly detail: unknown,
  ) {
    super(typeof detail === "string" ? detail : `backend error (${status})`);
    this.name = "BackendError";
  }
}

/** Joins the backend base URL (which may carry a path prefix) and an API path, with its query. */
export function buildUrl(baseUrl: URL, path: string, query: Record<string, number> = {}): URL {
  const base = new URL(baseUrl.href);
  const prefix = base.pathname.replace(/\/+$/, "");
  const suffix = path.startsWith("/") ? path : `/${path}`;
  base.pathname = `${prefix}${suffix}`;
  for (const [name, value] of Object.entries(query)) base.searchParams.set(name, String(value));
  return base;
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Maps a non-2xx backend answer: its 4xx are the caller's fault and pass through; the rest is a bad gateway. */
async function errorFromResponse(response: Response): Promise<BackendError> {
  const body = await readJson(response);
  const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : undefined;
  if (response.status >= 400 && response.status < 500) {
    return new BackendError(response.status, detail ?? `backend answered ${response.status}`);
  }
  return new BackendError(502, `backend error: upstream answered ${response.status}`);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, number>;
  config?: BackendConfig;
}

/** One request to the backend with a timeout; returns the parsed JSON body (undefined for 204). */
export async function backendRequest(path: string, options: RequestOptions = {}): Promise<unknown> {
  const config = options.config ?? readBackendConfig();
  const url = buildUrl(config.baseUrl, path, options.query);
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers: { accept: "application/json", ...(options.body !== undefined && { "content-type": "application/json" }) },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    if (isTimeout(error)) {
      throw new BackendError(504, `backend did not answer within ${config.timeoutMs} ms`);
    }
    throw new BackendError(502, "backend unreachable");
  }
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return undefined;
  try {
    return JSON.parse(await response.text());
  } catch (error) {
    if (isTimeout(error)) {
      throw new BackendError(504, `backend did not answer within ${config.timeoutMs} ms`);
    }
    throw new BackendError(502, "backend error: response is not valid JSON");
  }
}

export const todosApi = {
  /** One page of the backend's list, in id order (no query: the backend's first, default-sized page). */
  list: (page: PageQuery = {}, config?: BackendConfig) =>
    backendRequest("/api/todos", { query: { ...page }, config }) as Promise<Todo[]>,
  create: (data: TodoCreate, config?: BackendConfig) =>
    backendRequest("/api/todos", { method: "POST", body: data, config }) as Promise<Todo>,
  update: (id: number, data: TodoUpdate, config?: BackendConfig) =>
    backendRequest(`/api/todos/${id}`, { method: "PATCH", body: data, config }) as Promise<Todo>,
  remove: async (id: number, config?: BackendConfig): Promise<void> => {
    await backendRequest(`/api/todos/${id}`, { method: "DELETE", config });
  },
};

/**
 * How many todos there are, and how many are not done. The backend's list is paged and has no
 * count, so this reads its pages at the largest size it allows, in id order, until a short one:
 * one request per 500 todos. (A count from the backend would make this one request.)
 */
export async function countTodos(config: BackendConfig = readBackendConfig()): Promise<TodoCount> {
  const count: TodoCount = { total: 0, remaining: 0 };
  for (let offset = 0; ; offset += MAX_PAGE_SIZE) {
    const page = await todosApi.list({ offset, limit: MAX_PAGE_SIZE }, config);
    count.total += page.length;
    count.remaining += page.filter((todo) => !todo.completed).length;
    if (page.length < MAX_PAGE_SIZE) return count;
  }
}
