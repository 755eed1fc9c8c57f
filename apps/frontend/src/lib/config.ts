/**
 * Server-side settings, read from the environment on every call (never at build time),
 * so one image runs against any backend. Nothing here is sent to the browser.
 */

export const DEFAULT_TIMEOUT_MS = 5000;
const MAX_TIMEOUT_MS = 60_000;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface BackendConfig {
  baseUrl: URL;
  timeoutMs: number;
}

type Env = Record<string, string | undefined>;

export function parseBackendUrl(raw: string | undefined): URL {
  if (!raw || raw.trim() === "") {
    throw new ConfigError("BACKEND_URL is not set; expected an http(s) URL such as http://backend:8000");
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(`BACKEND_URL ${JSON.stringify(raw)} is not a valid URL; expected e.g. http://backend:8000`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`BACKEND_URL scheme ${JSON.stringify(url.protocol)} is not allowed; use http: or https:`);
  }
  if (url.search || url.hash) {
    throw new ConfigError("BACKEND_URL must not contain a query string or fragment");
  }
  return url;
}

export function parseTimeoutMs(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_TIMEOUT_MS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new ConfigError(
      `BACKEND_TIMEOUT_MS ${JSON.stringify(raw)} is invalid; expected an integer from 1 to ${MAX_TIMEOUT_MS}`,
    );
  }
  return value;
}

export function readBackendConfig(env: Env = process.env): BackendConfig {
  return {
    baseUrl: parseBackendUrl(env.BACKEND_URL),
    timeoutMs: parseTimeoutMs(env.BACKEND_TIMEOUT_MS),
  };
}
