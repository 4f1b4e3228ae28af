import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/types.ts";
import type { AuditSink } from "./deps.ts";
import type { LocalApiEnv } from "./env.ts";
import { LocalApiError } from "./errors.ts";

/**
 * Records every authenticated request to a mutating route with its outcome: the operation's
 * state when it was handed on, `refused:<code>` when the API said no (DESIGN §2.8). The
 * params themselves are in the journal row the operation id names.
 */
export function auditMutation(
  op: string,
  sink: AuditSink | undefined,
  logger: Logger,
): MiddlewareHandler<LocalApiEnv> {
  return async (c, next) => {
    await next();
    const guest = c.get("guest");
    const operation = c.get("operation");
    const err = c.error;
    const outcome = operation
      ? operation.state
      : err instanceof LocalApiError
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
    if (operation) details.operation_id = operation.id;
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
