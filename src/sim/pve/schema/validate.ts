/**
 * Request-parameter validation for the PVE simulator, reproducing what pve-common
 * RESTHandler::handle + JSONSchema::validate do before a handler runs: HTTP 400
 * "Parameter verification failed." with one message per parameter (docs/proxmox-behaviour.md#api-envelope-and-errors).
 * Also a lenient check of response data against the schema's `returns`, for conformance tests.
 */

import type { HttpMethod } from "../../../proxmox/http.ts";
import {
  type CompiledObject,
  type CompiledProp,
  checkObject,
  compileObject,
  compileProp,
  type Errors,
} from "./check-prop.ts";
import { checkReturns } from "./check-returns.ts";
import { endpointKey, loadPveSchema } from "./pve-schema.ts";

export type ValidateResult =
  | { ok: true; params: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

export class UnknownEndpointError extends Error {
  override readonly name = "UnknownEndpointError";
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`no schema for ${method} ${path}`);
  }
}

interface CompiledEndpoint {
  readonly params: CompiledObject;
  /** Top-level properties, for the legacy list/array normalisation. */
  readonly top: ReadonlyArray<{ name: string; type: string; listFormat: boolean }>;
  readonly returns: CompiledProp;
}

/**
 * Compiled once at load, not per request: the simulator has to serve thousands of requests per
 * second, and a frozen table is not shared mutable state.
 */
const ENDPOINTS: ReadonlyMap<string, CompiledEndpoint> = (() => {
  const file = loadPveSchema();
  const out = new Map<string, CompiledEndpoint>();
  for (const [key, ep] of Object.entries(file.endpoints)) {
    const props = ep.parameters.properties ?? {};
    out.set(key, {
      params: compileObject(props, ep.parameters.additionalProperties, file.indexCounts),
      top: Object.entries(props).map(([name, p]) => ({
        name,
        type: p.type ?? "",
        listFormat: typeof p.format === "string" && p.format.endsWith("-list"),
      })),
      returns: compileProp(ep.returns, file.indexCounts),
    });
  }
  return out;
})();

function lookup(method: string, path: string): CompiledEndpoint {
  const ep = ENDPOINTS.get(endpointKey(method as HttpMethod, path));
  if (ep === undefined) throw new UnknownEndpointError(method, path);
  return ep;
}

/** Perl truthiness of a parameter value. */
const truthy = (v: unknown): boolean =>
  v !== undefined && v !== null && v !== "" && v !== "0" && v !== 0 && v !== false;

/**
 * RESTHandler's normalize_legacy_param_formats: an array given for a `*-list` string is joined
 * with commas, a scalar given for an array parameter is wrapped (form encoding cannot nest).
 */
function normalizeLegacy(
  ep: CompiledEndpoint,
  params: Record<string, unknown>,
): Record<string, unknown> {
  let out = params;
  for (const t of ep.top) {
    const v = params[t.name];
    if (!truthy(v)) continue;
    let nv: unknown = v;
    if (Array.isArray(v) && t.type === "string" && t.listFormat) nv = v.join(",");
    else if (!Array.isArray(v) && (typeof v !== "object" || v === null) && t.type === "array")
      nv = [v];
    if (nv !== v) {
      if (out === params) out = { ...params };
      out[t.name] = nv;
    }
  }
  return out;
}

/**
 * Validates the merged path, query and body parameters of one request against the endpoint's
 * schema. `path` is the schema template (`/nodes/{node}/lxc/{vmid}/config`). Form-encoded values
 * arrive as strings, JSON bodies as JSON values. On success `params` holds the coerced values:
 * integers and numbers as numbers, booleans as 0/1.
 * Throws UnknownEndpointError for a method and path the schema does not have.
 */
export function validateParams(
  method: HttpMethod,
  path: string,
  params: Record<string, unknown>,
): ValidateResult {
  const ep = lookup(method, path);
  const errors: Errors = {};
  const out: Record<string, unknown> = {};
  checkObject("", ep.params, normalizeLegacy(ep, params), errors, out);
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, params: out };
}

/**
 * Checks a response's `data` against the endpoint's `returns` schema, with the wire leniency of
 * docs/proxmox-behaviour.md#json-type-quirks (numbers may be strings, booleans 0/1). Returns one message per mismatch,
 * prefixed with the JSON path; empty when the data matches.
 */
export function validateReturns(method: HttpMethod, path: string, data: unknown): string[] {
  return checkReturns(lookup(method, path).returns, data);
}

/** Every method and schema path the validator knows. */
export function schemaEndpoints(): Array<{ method: HttpMethod; path: string }> {
  return [...ENDPOINTS.keys()].map((k) => {
    const [method, path] = k.split(" ") as [HttpMethod, string];
    return { method, path };
  });
}
