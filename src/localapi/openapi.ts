import { z } from "zod";
import { BOOTSTRAP_PATH, bootstrapBody, bootstrapGrantSchema } from "./bootstrap.ts";
import { GUEST_ROUTES, type RouteSpec } from "./route-table.ts";
import { errorSchema } from "./schemas.ts";

const STATUS_TEXT: Record<number, string> = {
  400: "Malformed request (e.g. invalid JSON, or a token in the URL)",
  401: "Missing, unknown or revoked token",
  403: "Not permitted for this guest (quota, shrink, held for a signature, foreign Origin)",
  404: "Not found for this guest",
  405: "Method not allowed",
  409: "Conflicts with the guest's state",
  413: "Body over the limit",
  415: "Body is not application/json",
  422: "Body or parameter fails validation; `fields` names each problem",
  429: "Over the per-token rate limit; see Retry-After",
  502: "Proxmox could not be read",
};

const COMMON_ERRORS = [400, 401, 403, 405, 429];

function jsonContent(schema: z.ZodType, io: "input" | "output") {
  return { "application/json": { schema: z.toJSONSchema(schema, { io, unrepresentable: "any" }) } };
}

function operation(r: RouteSpec) {
  const params = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  const responses: Record<string, unknown> = {
    [String(r.success)]: {
      description: r.success === 202 ? "Accepted; poll status_url" : "OK",
      content: jsonContent(r.response, "output"),
    },
  };
  for (const s of [...new Set([...COMMON_ERRORS, ...r.errors])].sort()) {
    responses[String(s)] = {
      description: STATUS_TEXT[s] ?? "Error",
      content: jsonContent(errorSchema, "output"),
    };
  }
  return {
    operationId: r.id,
    summary: r.summary,
    ...(params.length ? { parameters: params } : {}),
    ...(r.body ? { requestBody: { required: false, content: jsonContent(r.body, "input") } } : {}),
    responses,
    security: [{ guestToken: [] }],
  };
}

/** The one route without a bearer token: the code in the body is the credential. */
function bootstrapOperation() {
  const refusal = { content: jsonContent(errorSchema, "output") };
  return {
    operationId: "bootstrap",
    summary:
      "Trade the one-time code from FELHOM_BOOTSTRAP for the guest's token, the pins, host id, hub URL and the sealed controller credential; once, from the guest's own address",
    requestBody: { required: true, content: jsonContent(bootstrapBody, "input") },
    responses: {
      "200": {
        description: "OK; shown once",
        content: jsonContent(bootstrapGrantSchema, "output"),
      },
      "401": {
        description: "The code was not accepted (no detail, whatever the cause)",
        ...refusal,
      },
      "413": { description: STATUS_TEXT[413], ...refusal },
      "415": { description: STATUS_TEXT[415], ...refusal },
      "422": { description: STATUS_TEXT[422], ...refusal },
      "429": { description: "Over the per-address attempt limit; see Retry-After", ...refusal },
    },
    security: [],
  };
}

/**
 * The OpenAPI 3.1 document of the guest routes, made from the route table and the zod schemas
 * that validate the requests.
 */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of GUEST_ROUTES) {
    const p = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    paths[p] ??= {};
    (paths[p] as Record<string, unknown>)[r.method.toLowerCase()] = operation(r);
  }
  paths[BOOTSTRAP_PATH] = { post: bootstrapOperation() };
  return {
    openapi: "3.1.0",
    info: {
      title: "felhom-agent local API",
      version,
      description:
        "For the controller inside a customer guest. Every route acts on the guest the bearer token was minted for; no route takes a guest id.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        guestToken: {
          type: "http",
          scheme: "bearer",
          description: "Per-guest token from `felhom-agent token mint --vmid N`",
        },
      },
    },
    paths,
  };
}
