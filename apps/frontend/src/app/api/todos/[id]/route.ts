/** Browser-facing proxy for one todo: PATCH updates, DELETE removes. */
import { todosApi } from "@/lib/backend";
import { json, toErrorResponse } from "@/lib/responses";
import { parseId, parseUpdate, readJsonBody } from "@/lib/validation";

export const dynamic = "force-dynamic";

interface Context {
  params: Promise<{ id: string }>;
}

async function todoId(context: Context): Promise<number> {
  const id = parseId((await context.params).id);
  if (!id.ok) throw id.error;
  return id.value;
}

export async function PATCH(request: Request, context: Context): Promise<Response> {
  try {
    const id = await todoId(context);
    const body = await readJsonBody(request);
    if (!body.ok) throw body.error;
    const input = parseUpdate(body.value);
    if (!input.ok) throw input.error;
    return json(await todosApi.update(id, input.value));
  } catch (error) {
    return toErrorResponse(error);
  }
}

export async function DELETE(_request: Request, context: Context): Promise<Response> {
  try {
    await todosApi.remove(await todoId(context));
    return new Response(null, { status: 204 });
  } catch (error) {
    return toErrorResponse(error);
  }
}
