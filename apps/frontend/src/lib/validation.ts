/**
 * Input checks for the route handlers: reject bad input here with a clear 4xx
 * instead of forwarding it to the backend.
 */
import type { TodoCreate, TodoUpdate } from "./types";

export const TITLE_MAX_LENGTH = 200;
/** The backend's list bounds (apps/backend todo_api/api.py): at most 500 per page, offsets as ids. */
export const MAX_PAGE_SIZE = 500;
export const MAX_OFFSET = 2 ** 31 - 1;

export class ValidationError extends Error {
  constructor(
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = "ValidationError";
  }
}

type Result<T> = { ok: true; value: T } | { ok: false; error: ValidationError };

function fail<T>(message: string, status = 400): Result<T> {
  return { ok: false, error: new ValidationError(message, status) };
}

/** Path ids are positive integers written in plain decimal digits. */
export function parseId(raw: string): Result<number> {
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    return fail(`todo id ${JSON.stringify(raw)} is invalid; expected a positive integer`);
  }
  return { ok: true, value: Number(raw) };
}

function parseTitle(raw: unknown): Result<string> {
  if (typeof raw !== "string") return fail("title must be a string");
  const title = raw.trim();
  if (title.length === 0) return fail("title must not be empty");
  if (title.length > TITLE_MAX_LENGTH) {
    return fail(`title is ${title.length} characters long; at most ${TITLE_MAX_LENGTH} are allowed`);
  }
  return { ok: true, value: title };
}

function asObject(body: unknown): Result<Record<string, unknown>> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return fail("request body must be a JSON object");
  }
  return { ok: true, value: body as Record<string, unknown> };
}

function rejectUnknownKeys(body: Record<string, unknown>, allowed: string[]): ValidationError | undefined {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length === 0) return undefined;
  return new ValidationError(`unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}`);
}

export function parseCreate(body: unknown): Result<TodoCreate> {
  const object = asObject(body);
  if (!object.ok) return object;
  const extra = rejectUnknownKeys(object.value, ["title"]);
  if (extra) return { ok: false, error: extra };
  if (!("title" in object.value)) return fail("title is required");
  const title = parseTitle(object.value.title);
  return title.ok ? { ok: true, value: { title: title.value } } : title;
}

export function parseUpdate(body: unknown): Result<TodoUpdate> {
  const object = asObject(body);
  if (!object.ok) return object;
  const extra = rejectUnknownKeys(object.value, ["title", "completed"]);
  if (extra) return { ok: false, error: extra };
  const update: TodoUpdate = {};
  if ("title" in object.value) {
    const title = parseTitle(object.value.title);
    if (!title.ok) return title;
    update.title = title.value;
  }
  if ("completed" in object.value) {
    if (typeof object.value.completed !== "boolean") return fail("completed must be true or false");
    update.completed = object.value.completed;
  }
  if (Object.keys(update).length === 0) return fail("nothing to update; send title and/or completed");
  return { ok: true, value: update };
}

/** A page of the list: what GET /api/todos forwards to the backend (absent: the backend's default). */
export interface PageQuery {
  offset?: number;
  limit?: number;
}

function parseBound(params: URLSearchParams, name: string, min: number, max: number): Result<number | undefined> {
  const raw = params.get(name);
  if (raw === null) return { ok: true, value: undefined };
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    return fail(`${name} ${JSON.stringify(raw)} is invalid; expected a whole number from ${min} to ${max}`);
  }
  return { ok: true, value: Number(raw) };
}

/** The list's query: `offset` (0 to 2^31-1) and `limit` (1 to 500), as the backend allows; nothing else. */
export function parsePageQuery(params: URLSearchParams): Result<PageQuery> {
  const allowed = ["offset", "limit"];
  const unknown = [...new Set(params.keys())].filter((key) => !allowed.includes(key));
  if (unknown.length > 0) return fail(`unknown query parameter(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}`);
  const offset = parseBound(params, "offset", 0, MAX_OFFSET);
  if (!offset.ok) return offset;
  const limit = parseBound(params, "limit", 1, MAX_PAGE_SIZE);
  if (!limit.ok) return limit;
  const query: PageQuery = {};
  if (offset.value !== undefined) query.offset = offset.value;
  if (limit.value !== undefined) query.limit = limit.value;
  return { ok: true, value: query };
}

/** Reads a JSON body, answering 415 for another content type and 400 for malformed JSON. */
export async function readJsonBody(request: Request): Promise<Result<unknown>> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(contentType)) {
    return fail("content-type must be application/json", 415);
  }
  try {
    return { ok: true, value: await request.json() };
  } catch {
    return fail("request body is not valid JSON");
  }
}
