import { PveHttpError, paramError } from "./errors.ts";

function addParam(out: Record<string, unknown>, key: string, value: string): void {
  const prev = out[key];
  if (prev === undefined) out[key] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[key] = [prev, value];
}

function fromSearch(search: string, out: Record<string, unknown>): void {
  for (const [k, v] of new URLSearchParams(search)) addParam(out, k, v);
}

/**
 * Parameters as pveproxy extracts them (docs/proxmox-behaviour.md#api-envelope-and-errors): GET/DELETE from the query string only
 * (a body is refused with 501), POST/PUT from a form-urlencoded or JSON body with the query
 * string overriding, and path parameters must not conflict with given ones.
 */
export function extractParams(
  method: string,
  search: string,
  contentType: string | undefined,
  body: string,
  pathParams: Record<string, string>,
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (method === "GET" || method === "DELETE") {
    if (body.length > 0) throw new PveHttpError(501, `Unexpected content for method '${method}'`);
  } else if (body.length > 0) {
    if (contentType?.startsWith("application/json")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch (e) {
        throw new PveHttpError(400, `failed to parse JSON body - ${(e as Error).message}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new PveHttpError(400, "JSON body must be an object");
      }
      Object.assign(params, parsed);
    } else {
      fromSearch(body, params);
    }
  }
  const query: Record<string, unknown> = {};
  fromSearch(search, query);
  Object.assign(params, query);
  for (const [k, v] of Object.entries(pathParams)) {
    const given = params[k];
    if (given !== undefined && String(given) !== v) {
      throw paramError({
        [k]: "duplicate parameter (already defined in URI) with conflicting values!",
      });
    }
    params[k] = v;
  }
  return params;
}
