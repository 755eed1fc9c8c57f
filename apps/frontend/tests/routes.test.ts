import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GET as health } from "@/app/api/health/route";
import { DELETE, PATCH } from "@/app/api/todos/[id]/route";
import { GET as count } from "@/app/api/todos/count/route";
import { GET, POST } from "@/app/api/todos/route";
import { FakeBackend, closedPortUrl } from "./fake-backend";

const ORIGIN = "http://frontend.test";

function jsonRequest(path: string, method: string, body: unknown, contentType = "application/json"): Request {
  return new Request(`${ORIGIN}${path}`, {
    method,
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const list = (query = "") => GET(new Request(`${ORIGIN}/api/todos${query}`));

const params = (id: string) => ({ params: Promise.resolve({ id }) });

describe("/api/health", () => {
  it("answers 200 ok without a backend configured", async () => {
    vi.stubEnv("BACKEND_URL", "");
    vi.stubEnv("APP_VERSION", "1.2.3");
    const response = health();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", version: "1.2.3" });
    vi.unstubAllEnvs();
  });
});

describe("/api/todos route handlers", () => {
  const backend = new FakeBackend();
  let backendUrl: string;

  beforeAll(async () => {
    backendUrl = await backend.start();
  });
  afterAll(() => backend.stop());
  beforeEach(() => {
    backend.reset();
    vi.stubEnv("BACKEND_URL", backendUrl);
    vi.stubEnv("BACKEND_TIMEOUT_MS", "1000");
  });
  afterEach(() => vi.unstubAllEnvs());

  it("GET lists the backend's todos", async () => {
    backend.seed("a");
    backend.seed("b", true);
    const response = await list();
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect((await response.json()).map((t: { title: string }) => t.title)).toEqual(["a", "b"]);
  });

  it("reads BACKEND_URL at request time", async () => {
    vi.stubEnv("BACKEND_URL", await closedPortUrl());
    expect((await list()).status).toBe(502);
    vi.stubEnv("BACKEND_URL", backendUrl);
    expect((await list()).status).toBe(200);
  });

  it("GET forwards offset and limit: every page of the backend's list is reachable", async () => {
    for (let i = 1; i <= 250; i++) backend.seed(`todo ${i}`);
    const ids: number[] = [];
    for (const offset of [0, 100, 200]) {
      const response = await list(`?offset=${offset}&limit=100`);
      expect(response.status).toBe(200);
      ids.push(...(await response.json()).map((t: { id: number }) => t.id));
    }
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(backend.requests.map((r) => r.url)).toEqual([
      "/api/todos?offset=0&limit=100",
      "/api/todos?offset=100&limit=100",
      "/api/todos?offset=200&limit=100",
    ]);
  });

  it("GET without a query asks the backend for its default page", async () => {
    await list();
    expect(backend.requests.map((r) => r.url)).toEqual(["/api/todos"]);
  });

  it.each([
    ["?limit=0", 'limit "0" is invalid; expected a whole number from 1 to 500'],
    ["?limit=501", 'limit "501" is invalid; expected a whole number from 1 to 500'],
    ["?offset=-1", 'offset "-1" is invalid; expected a whole number from 0 to 2147483647'],
    ["?offset=1.5", 'offset "1.5" is invalid; expected a whole number from 0 to 2147483647'],
    ["?offset=2147483648", 'offset "2147483648" is invalid; expected a whole number from 0 to 2147483647'],
    ["?page=2", "unknown query parameter(s) page; allowed: offset, limit"],
  ])("GET %s is refused with 400 before calling the backend", async (query, detail) => {
    const response = await list(query);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail });
    expect(backend.requests).toHaveLength(0);
  });

  it("count walks the backend's pages at 500: total and not completed", async () => {
    for (let i = 1; i <= 1001; i++) backend.seed(`todo ${i}`, i % 4 === 0);
    const response = await count();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ total: 1001, remaining: 751 });
    expect(backend.requests.map((r) => r.url)).toEqual([
      "/api/todos?offset=0&limit=500",
      "/api/todos?offset=500&limit=500",
      "/api/todos?offset=1000&limit=500",
    ]);
  });

  it("count of an exact multiple of 500 reads one empty page to know it is the end", async () => {
    for (let i = 1; i <= 500; i++) backend.seed(`todo ${i}`);
    expect(await (await count()).json()).toEqual({ total: 500, remaining: 500 });
    expect(backend.requests).toHaveLength(2);
  });

  it("count with the backend down is a 502 with the reason", async () => {
    vi.stubEnv("BACKEND_URL", await closedPortUrl());
    const response = await count();
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ detail: "backend unreachable" });
  });

  it("POST creates a todo with a trimmed title and answers 201", async () => {
    const response = await POST(jsonRequest("/api/todos", "POST", { title: "  buy milk " }));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ id: 1, title: "buy milk", completed: false });
    expect(backend.todos).toHaveLength(1);
  });

  it.each([
    [{}, 400, "title is required"],
    [{ title: "   " }, 400, "title must not be empty"],
    [{ title: 5 }, 400, "title must be a string"],
    [{ title: "x".repeat(201) }, 400, "title is 201 characters long; at most 200 are allowed"],
    [{ title: "x", owner: "me" }, 400, "unknown field(s) owner; allowed: title"],
    [["title"], 400, "request body must be a JSON object"],
    ["{not json", 400, "request body is not valid JSON"],
  ])("POST rejects %j with %i before calling the backend", async (body, status, detail) => {
    const response = await POST(jsonRequest("/api/todos", "POST", body));
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ detail });
    expect(backend.requests).toHaveLength(0);
  });

  it("POST rejects a non-JSON content type with 415", async () => {
    const response = await POST(jsonRequest("/api/todos", "POST", "title=x", "application/x-www-form-urlencoded"));
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({ detail: "content-type must be application/json" });
  });

  it("PATCH completes a todo", async () => {
    const todo = backend.seed("a");
    const response = await PATCH(jsonRequest(`/api/todos/${todo.id}`, "PATCH", { completed: true }), params(String(todo.id)));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: todo.id, completed: true });
    expect(JSON.parse(backend.requests[0].body)).toEqual({ completed: true });
  });

  it.each([
    ["abc", { completed: true }, "todo id \"abc\" is invalid; expected a positive integer"],
    ["0", { completed: true }, "todo id \"0\" is invalid; expected a positive integer"],
    ["1", {}, "nothing to update; send title and/or completed"],
    ["1", { completed: "yes" }, "completed must be true or false"],
    ["1", { done: true }, "unknown field(s) done; allowed: title, completed"],
  ])("PATCH /api/todos/%s with %j answers 400", async (id, body, detail) => {
    const response = await PATCH(jsonRequest(`/api/todos/${id}`, "PATCH", body), params(id));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ detail });
    expect(backend.requests).toHaveLength(0);
  });

  it("PATCH of a missing todo passes the backend's 404 through", async () => {
    const response = await PATCH(jsonRequest("/api/todos/7", "PATCH", { title: "x" }), params("7"));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: "Todo 7 not found" });
  });

  it("DELETE removes a todo and answers 204 with no body", async () => {
    const todo = backend.seed("a");
    const response = await DELETE(new Request(`${ORIGIN}/api/todos/${todo.id}`, { method: "DELETE" }), params(String(todo.id)));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(backend.todos).toHaveLength(0);
  });

  it("maps a backend 503 to 502", async () => {
    backend.fault = { status: 503, body: '{"detail":"database down"}' };
    const response = await list();
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ detail: "backend error: upstream answered 503" });
  });

  it("maps a backend timeout to 504", async () => {
    vi.stubEnv("BACKEND_TIMEOUT_MS", "100");
    backend.fault = { delayMs: 1500 };
    const response = await list();
    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({ detail: "backend did not answer within 100 ms" });
  });

  it("answers 500 without revealing a bad BACKEND_URL", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.stubEnv("BACKEND_URL", "ftp://secret-host.internal");
    const response = await list();
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).toContain("server misconfigured");
    expect(text).not.toContain("secret-host");
    expect(log).toHaveBeenCalledWith(expect.stringContaining("BACKEND_URL scheme \"ftp:\" is not allowed"));
    log.mockRestore();
  });
});
