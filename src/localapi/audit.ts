import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/types.ts";
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
  op: string,
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
    const details: Record<string, unknown> = {
      token_id: guest.tokenId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
    };
    try {
      sink?.append({
        actor: `guest:${guest.vmid}`,
        action: op,
        target: `guest:${guest.vmid}`,
        outcome,
        details,
      });
    } catch (e) {
      // The request's effect has already happened or been refused; a failing audit write is
      // loud in the log rather than turning an accepted operation into an error answer.
      logger.error("local API audit write failed", { error: (e as Error).message, op });
    }
  };
}
