/** Liveness/readiness for probes: answers without calling the backend. */
export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json(
    { status: "ok", version: process.env.APP_VERSION ?? "0.0.0-dev" },
    { headers: { "cache-control": "no-store" } },
  );
}
