import type { HttpMethod } from "../../proxmox/http.ts";
import { UnknownEndpointError, validateParams } from "./schema/validate.ts";

export type ParamCheck =
  | { ok: true; params: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

/**
 * Schema validation before the handler (docs/proxmox-behaviour.md#api-envelope-and-errors). Endpoints outside the committed
 * schema subset pass through unchanged.
 */
export function checkParams(
  method: HttpMethod,
  path: string,
  params: Record<string, unknown>,
): ParamCheck {
  try {
    return validateParams(method, path, params);
  } catch (e) {
    if (e instanceof UnknownEndpointError) return { ok: true, params };
    throw e;
  }
}
