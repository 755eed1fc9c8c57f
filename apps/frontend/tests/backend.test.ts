import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BackendError, backendRequest, buildUrl, todosApi } from "@/lib/backend";
import type { BackendConfig } from "@/lib/config";
import { FakeBackend, closedPortUrl } from "./fake-backend";

describe("buildUrl", () => {
  it.each([
    ["http://backend:8000", "/api/todos", "http://backend:8000/api/todos"],
    ["http://backend:8000/", "/api/todos", "http://backend:8000/api/todos"],
    ["http://gw/todo-api/", "/api/todos/3", "http://gw/todo-api/api/todos/3"],
    ["http://gw/todo-api", "api/todos", "http://gw/todo-api/api/todos"],
  ])("joins %s and %s", (base, path, expected) => {
    expect(buildUrl(new URL(base), path).href).toBe(expected);
  });

  it("adds the query after a path prefix", () => {
    expect(buildUrl(new URL("http://gw/todo-api/"), "/api/todos", { offset: 100, limit: 100 }).href).toBe(
      "http://gw/todo-api/api/todos?offset=100&limit=100",
    );
  });
});

describe("backend client against a fake backend", () => {
  const backend = new FakeBackend();
  let config: BackendConfig;

  beforeAll(async () => {
    config = { baseUrl: new URL(await backend.start()), timeoutMs: 1000 };
  });
  afterAll(() => backend.stop());
  beforeEach(() => backend.reset());

  async function failure(promise: Promise<unknown>): Promise<BackendError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendError);
    return error as BackendError;
  }

  it("lists, creates, updates and deletes", async () => {
    backend.seed("existing");
    expect((await todosApi.list({}, config)).map((t) => t.title)).toEqual(["existing"]);

    const created = await todosApi.create({ title: "new" }, config);
    expect(created).toMatchObject({ id: 2, title: "new", completed: false });
    expect(backend.requests.at(-1)).toMatchObject({
      method: "POST",
      url: "/api/todos",
      contentType: "application/json",
      body: '{"title":"new"}',
    });

    expect(await todosApi.update(2, { completed: true }, config)).toMatchObject({ id: 2, completed: true });
    expect(backend.requests.at(-1)).toMatchObject({ method: "PATCH", url: "/api/todos/2" });

    await expect(todosApi.remove(2, config)).resolves.toBeUndefined();
    expect(backend.todos.map((t) => t.id)).toEqual([1]);
  });

  it("lists a page: offset and limit reach the backend", async () => {
    for (let i = 1; i <= 5; i++) backend.seed(`todo ${i}`);
    expect((await todosApi.list({ offset: 2, limit: 2 }, config)).map((t) => t.id)).toEqual([3, 4]);
    expect(backend.requests.at(-1)?.url).toBe("/api/todos?offset=2&limit=2");
  });

  it("passes a backend 4xx through with its detail", async () => {
    const error = await failure(todosApi.update(99, { completed: true }, config));
    expect(error.status).toBe(404);
    expect(error.detail).toBe("Todo 99 not found");
  });

  it("passes structured 422 details through unchanged", async () => {
    const detail = [{ loc: ["body", "title"], msg: "too long", type: "value_error" }];
    backend.fault = { status: 422, body: JSON.stringify({ detail }) };
    const error = await failure(todosApi.create({ title: "x" }, config));
    expect(error.status).toBe(422);
    expect(error.detail).toEqual(detail);
  });

  it("maps a backend 5xx to 502 without leaking its body", async () => {
    backend.fault = { status: 500, body: '{"detail":"psycopg: password authentication failed"}' };
    const error = await failure(todosApi.list({}, config));
    expect(error.status).toBe(502);
    expect(error.detail).toBe("backend error: upstream answered 500");
  });

  it("maps a non-JSON success body to 502", async () => {
    backend.fault = { status: 200, body: "<html>proxy page</html>" };
    const error = await failure(todosApi.list({}, config));
    expect(error.status).toBe(502);
    expect(error.detail).toMatch(/not valid JSON/);
  });

  it("maps a slow backend to 504 after the timeout", async () => {
    backend.fault = { delayMs: 2000 };
    const started = Date.now();
    const error = await failure(backendRequest("/api/todos", { config: { ...config, timeoutMs: 150 } }));
    expect(error.status).toBe(504);
    expect(error.detail).toBe("backend did not answer within 150 ms");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("maps an unreachable backend to 502", async () => {
    const error = await failure(todosApi.list({}, { baseUrl: new URL(await closedPortUrl()), timeoutMs: 1000 }));
    expect(error.status).toBe(502);
    expect(error.detail).toBe("backend unreachable");
  });
});
