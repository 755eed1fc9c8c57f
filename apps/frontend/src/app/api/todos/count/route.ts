/** GET /api/todos/count: {total, remaining}, for the page's "Showing 101–200 of 250" and "N left". */
import { countTodos } from "@/lib/backend";
import { json, toErrorResponse } from "@/lib/responses";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  try {
    return json(await countTodos());
  } catch (error) {
    return toErrorResponse(error);
  }
}
