import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_TIMEOUT_MS, parseBackendUrl, parseTimeoutMs, readBackendConfig } from "@/lib/config";

describe("parseBackendUrl", () => {
  it("accepts http and https URLs", () => {
    expect(parseBackendUrl("http://backend:8000").href).toBe("http://backend:8000/");
    expect(parseBackendUrl(" https://api.example.test/prefix ").pathname).toBe("/prefix");
  });

  it.each([
    [undefined, /BACKEND_URL is not set/],
    ["", /BACKEND_URL is not set/],
    ["backend:8000x", /scheme "backend:" is not allowed/],
    ["not a url", /is not a valid URL/],
    ["ftp://backend", /scheme "ftp:" is not allowed/],
    ["http://backend:8000/?x=1", /query string or fragment/],
  ])("rejects %j", (raw, message) => {
    expect(() => parseBackendUrl(raw)).toThrow(ConfigError);
    expect(() => parseBackendUrl(raw)).toThrow(message);
  });
});

describe("parseTimeoutMs", () => {
  it("defaults when unset", () => {
    expect(parseTimeoutMs(undefined)).toBe(DEFAULT_TIMEOUT_MS);
    expect(parseTimeoutMs(" ")).toBe(DEFAULT_TIMEOUT_MS);
  });

  it("accepts an integer in range", () => {
    expect(parseTimeoutMs("250")).toBe(250);
  });

  it.each(["0", "-5", "1.5", "abc", "60001"])("rejects %j naming the allowed range", (raw) => {
    expect(() => parseTimeoutMs(raw)).toThrow(/BACKEND_TIMEOUT_MS .* expected an integer from 1 to 60000/);
  });
});

describe("readBackendConfig", () => {
  it("reads the given environment at call time", () => {
    const config = readBackendConfig({ BACKEND_URL: "http://a:1", BACKEND_TIMEOUT_MS: "42" });
    expect(config.baseUrl.host).toBe("a:1");
    expect(config.timeoutMs).toBe(42);
    expect(readBackendConfig({ BACKEND_URL: "http://b:2" }).baseUrl.host).toBe("b:2");
  });
});
