/** Browser-facing proxy for the todo collection: GET lists a page (?offset=&limit=), POST creates. */
import { todosApi } from "@/lib/backend";
import { json, toErrorResponse } from "@/lib/responses";
import { parseCreate, parsePageQuery, readJsonBody } from "@/lib/validation";

// BACKEND_URL is read per request: never prerender or cache these responses.
export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  try {
    const page = parsePageQuery(new URL(request.url).searchParams);
    if (!page.ok) throw page.error;
    return json(await todosApi.list(page.value));
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
