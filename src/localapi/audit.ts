import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/types.ts";
import { boundedText } from "../store/audit-text.ts";
import { canonicalJson } from "../util/canonical-json.ts";
import type { AuditSink } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { LocalApiError } from "./errors.ts";

/**
 * Records every authenticated request to a mutating route that the API itself answered:
 * `refused:<code>` when it said no, `unchanged` when nothing needed doing (docs/architecture.md#everything-is-audited). A
 * request handed on as an operation is not recorded here: the engine and the gate audit every
 * decision on it (actor `guest:<vmid>`), and a second row would say the same thing twice.
 */
export function auditMutation(
  route: { id: string; op: string },
  sink: AuditSink | undefined,
  logger: Logger,
): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    await next();
    const guest = c.get("guest");
    if (c.get("operation")) return;
    const err = c.error;
    const outcome =
      err instanceof LocalApiError
        ? `refused:${err.code}`
        : err
          ? "error"
          : c.res.status === 200
            ? "unchanged"
            : `status:${c.res.status}`;
    const details = guestRequestDetails({
      route: route.id,
      tokenId: guest.tokenId,
      method: c.req.method,
      status: c.res.status,
      params: c.req.param() as Record<string, string>,
    });
    try {
      sink?.append({
        actor: `guest:${guest.vmid}`,
        action: route.op,
        target: `guest:${guest.vmid}`,
        outcome,
        details,
      });
    } catch (e) {
      // The request's effect has already happened or been refused; a failing audit write is
      // loud in the log rather than turning an accepted operation into an error answer.
      logger.error("local API audit write failed", { error: (e as Error).message, op: route.op });
    }
  };
}

/** Bounds for what a guest's request may put into an audit row (src/store/README.md#audit-text-from-guests). */
export const GUEST_AUDIT_LIMITS = {
  /** The whole canonical `details` text, in UTF-8 bytes. */
  detailsBytes: 1024,
  /** One path parameter's value, after escaping, in UTF-16 units. */
  paramChars: 64,
  /** How many path parameters are kept. */
  params: 4,
} as const;

/**
 * The details of an audit row for a guest's request. The guest controls the path, so the row
 * names the route by its id (not the raw path) and keeps each path parameter short and escaped:
 * a guest can neither fill the log nor make a row read as something else with bidi controls.
 */
export function guestRequestDetails(r: {
  route: string;
  tokenId: string;
  method: string;
  status: number;
  params: Record<string, string>;
}): Record<string, unknown> {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.params).slice(0, GUEST_AUDIT_LIMITS.params)) {
    params[boundedText(k, 32)] = boundedText(v, GUEST_AUDIT_LIMITS.paramChars);
  }
  const details: Record<string, unknown> = {
    route: r.route,
    token_id: boundedText(r.tokenId, 64),
    method: boundedText(r.method, 16),
    status: r.status,
  };
  if (Object.keys(params).length > 0) details.params = params;
  // The parts above are bounded by construction; this keeps the promise if they ever grow.
  if (Buffer.byteLength(canonicalJson(details)) > GUEST_AUDIT_LIMITS.detailsBytes) {
    delete details.params;
    details.truncated = true;
  }
  return details;
}
