import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import type { LocalApiEnv } from "./env.ts";
import { type FieldError, LocalApiError } from "./errors.ts";

export function limitBody(maxBytes: number): MiddlewareHandler<LocalApiEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new LocalApiError(413, `request body is larger than ${maxBytes} bytes`, {
        code: "body_too_large",
      });
    },
  });
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}

/**
 * The JSON body validated by `schema`. An empty body counts as `{}` (every POST body here is
 * optional or all-optional), anything else must be `application/json`.
 */
export async function readJson<S extends z.ZodType>(
  c: Context<LocalApiEnv>,
  schema: S,
): Promise<z.output<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      throw new LocalApiError(415, "the request body must be application/json", {
        code: "unsupported_media_type",
      });
    }
    try {
      value = JSON.parse(text);
    } catch {
      throw new LocalApiError(400, "the request body is not valid JSON", {
        code: "malformed_json",
      });
    }
  }
  return parseOr422(schema, value);
}

export function parseOr422<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new LocalApiError(422, "the request does not match the schema", {
      code: "invalid_request",
      fields: fieldErrors(parsed.error),
    });
  }
  return parsed.data;
}
