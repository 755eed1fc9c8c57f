import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, UNREACHABLE, describeError, todosClient } from "@/lib/todos-client";

describe("the browser's client of the route handlers", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows the API's own message for input it refuses", () => {
    expect(describeError(400, { detail: "title must not be empty" })).toBe("title must not be empty");
    expect(describeError(422, { detail: [{ msg: "too long" }, { msg: "no tabs" }] })).toBe("too long; no tabs");
  });

  it("says a server error is the service's, that nothing changed and to try again", () => {
    expect(describeError(502, { detail: "backend unreachable" })).toBe(
      "The todo service is not available right now (backend unreachable). Nothing was changed; try again.",
    );
    expect(describeError(500, undefined)).toMatch(/^The todo service is not available right now \(request failed \(500\)\)/);
  });

  it("asks for a page by offset and limit", async () => {
    const fetched = vi.fn(async () => Response.json([]));
    vi.stubGlobal("fetch", fetched);
    await todosClient.list(200, 100);
    expect(fetched).toHaveBeenCalledWith("/api/todos?offset=200&limit=100", expect.objectContaining({ cache: "no-store" }));
  });

  it("rejects with the status, so a delete can tell 'already gone' (404) from a failure", async () => {
    vi.stubGlobal("fetch", async () => Response.json({ detail: "todo 7 not found" }, { status: 404 }));
    const error = await todosClient.remove(7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, message: "todo 7 not found" });
  });

  it("turns a request that got no answer into a sentence, not 'Failed to fetch'", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(todosClient.count()).rejects.toThrow(UNREACHABLE);
  });
});
