/** A small stand-in for the FastAPI backend: in-memory todos on 127.0.0.1, with switchable faults. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Todo } from "@/lib/types";

export interface Fault {
  /** Answer every request with this status and raw body instead of the normal behaviour. */
  status?: number;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  url: string;
  contentType?: string;
  body: string;
}

export class FakeBackend {
  todos: Todo[] = [];
  requests: RecordedRequest[] = [];
  fault: Fault | null = null;
  private nextId = 1;
  private server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.todos = [];
    this.requests = [];
    this.fault = null;
    this.nextId = 1;
  }

  seed(title: string, completed = false): Todo {
    const now = new Date().toISOString();
    const todo = { id: this.nextId++, title, completed, created_at: now, updated_at: now };
    this.todos.push(todo);
    return todo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = "";
    for await (const chunk of req) body += chunk;
    this.requests.push({ method: req.method ?? "", url: req.url ?? "", contentType: req.headers["content-type"], body });
    if (this.fault?.delayMs) await new Promise((r) => setTimeout(r, this.fault?.delayMs));
    if (res.destroyed) return;
    if (this.fault?.status) {
      res.writeHead(this.fault.status, { "content-type": "application/json" }).end(this.fault.body ?? "");
      return;
    }
    this.route(req.method ?? "", req.url ?? "", body, res);
  }

  private route(method: string, url: string, body: string, res: ServerResponse): void {
    const send = (status: number, payload?: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(payload === undefined ? "" : JSON.stringify(payload));
    };
    const parsed = new URL(url, "http://backend.test");
    const match = parsed.pathname.match(/^\/api\/todos(?:\/(\d+))?$/);
    if (!match) return send(404, { detail: "Not Found" });
    const id = match[1] ? Number(match[1]) : undefined;
    const todo = id === undefined ? undefined : this.todos.find((t) => t.id === id);
    if (id !== undefined && !todo) return send(404, { detail: `Todo ${id} not found` });

    if (method === "GET" && id === undefined) {
      // Paged as the real backend is: `limit` (default 100) from `offset`, in id order.
      const offset = Number(parsed.searchParams.get("offset") ?? 0);
      const limit = Number(parsed.searchParams.get("limit") ?? 100);
      return send(200, this.todos.slice(offset, offset + limit));
    }
    if (method === "POST" && id === undefined) return send(201, this.seed(JSON.parse(body).title));
    if (method === "PATCH" && todo) {
      Object.assign(todo, JSON.parse(body), { updated_at: new Date().toISOString() });
      return send(200, todo);
    }
    if (method === "DELETE" && todo) {
      this.todos = this.todos.filter((t) => t !== todo);
      return send(204);
    }
    send(405, { detail: "Method Not Allowed" });
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port just released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
