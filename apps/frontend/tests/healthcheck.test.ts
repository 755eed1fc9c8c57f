import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPortUrl } from "./fake-backend";

const script = fileURLToPath(new URL("../healthcheck.js", import.meta.url));

// Async on purpose: the test server lives in this process and must keep answering.
function runHealthcheck(port: number, ...args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, PORT: String(port) } });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("healthcheck.js", () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? "");
      res.writeHead(req.url === "/api/health" || req.url === "/custom" ? 200 : 503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("exits 0 when /api/health answers 200 on $PORT", async () => {
    expect((await runHealthcheck(port)).status).toBe(0);
    expect(seen.at(-1)).toBe("/api/health");
  });

  it("checks the path given as argument", async () => {
    expect((await runHealthcheck(port, "/custom")).status).toBe(0);
    const failed = await runHealthcheck(port, "/other");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain("/other answered 503");
  });

  it("exits 1 when nothing listens", async () => {
    const closed = Number(new URL(await closedPortUrl()).port);
    expect((await runHealthcheck(closed)).status).toBe(1);
  });

  it("rejects a path without a leading slash", async () => {
    const result = await runHealthcheck(port, "api/health");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('must start with "/"');
  });
});
