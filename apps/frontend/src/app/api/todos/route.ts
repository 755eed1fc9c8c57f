/** Browser-facing proxy for the todo collection: GET lists, POST creates. */
import { todosApi } from "@/lib/backend";
import { json, toErrorResponse } from "@/lib/responses";
import { parseCreate, readJsonBody } from "@/lib/validation";

// BACKEND_URL is read per request: never prerender or cache these responses.
export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  try {
    return json(await todosApi.list());
  } catch (error) {
    return toErrorResponse(error);
  }
}

export async function POST(request: Request): Promise<Response> {
  try {
    const body = await readJsonBody(request);
    if (!body.ok) throw body.error;
    const input = parseCreate(body.value);
    if (!input.ok) throw input.error;
    return json(await todosApi.create(input.value), 201);
  } catch (error) {
    return toErrorResponse(error);
  }
}
