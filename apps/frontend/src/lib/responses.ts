/** JSON responses in the backend's error shape ({detail}), so the browser sees one format. */
import { BackendError } from "./backend";
import { ConfigError } from "./config";
import { ValidationError } from "./validation";

const NO_STORE = { "cache-control": "no-store" };

export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: NO_STORE });
}

export function errorResponse(status: number, detail: unknown): Response {
  return json({ detail }, status);
}

/** Turns any error from a handler into a clear response; unknown errors are logged, not leaked. */
export function toErrorResponse(error: unknown): Response {
  if (error instanceof ValidationError) return errorResponse(error.status, error.message);
  if (error instanceof BackendError) return errorResponse(error.status, error.detail);
  if (error instanceof ConfigError) {
    // The message may quote BACKEND_URL: log it, keep it from the browser.
    console.error(`configuration error: ${error.message}`);
    return errorResponse(500, "server misconfigured: backend settings are invalid (see server log)");
  }
  console.error("unexpected error", error);
  return errorResponse(500, "internal error");
}
