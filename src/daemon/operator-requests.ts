import { PendingOperationError, type ReversibilityGate } from "../gate/gate.ts";
import type { Logger } from "../log/types.ts";
import type { OperationSubmitter } from "../ops/types.ts";
import type { OperatorRequest, OperatorRequestResult } from "../store/operator-requests.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";

/** How often the daemon looks for requests the command line queued. */
export const OPERATOR_REQUEST_POLL_MS = 1_000;

export interface OperatorRequestDeps {
  store: Pick<Store, "operatorRequests">;
  gate: Pick<ReversibilityGate, "releasePending" | "declinePending">;
  submitter: OperationSubmitter;
  logger: Logger;
}

/**
 * Carries out one queued approval or decline through the gate, exactly as the hub's release of
 * a held job goes (docs/architecture.md#held-operations-on-the-host): an approval's envelope is
 * verified against the held action, and an accepted one is submitted to the engine, where it is
 * decided again, journaled with its nonce, and run. Every step writes its audit row there.
 */
export async function carryOut(
  req: OperatorRequest,
  deps: OperatorRequestDeps,
): Promise<OperatorRequestResult> {
  try {
    if (req.action === "decline") {
      deps.gate.declinePending(req.pendingId, "operator", req.reason ?? "declined");
      return { outcome: "declined" };
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(req.envelope ?? "");
    } catch {
      envelope = req.envelope;
    }
    const { verdict, request } = await deps.gate.releasePending(req.pendingId, envelope);
    if (verdict.outcome !== "accepted" || request === undefined) {
      return {
        outcome: `${verdict.outcome}${verdict.reason ? `:${verdict.reason}` : ""}`,
        ...(verdict.detail === undefined ? {} : { detail: verdict.detail }),
      };
    }
    const status = await deps.submitter.submit(request);
    if (status.state === "rejected") {
      return { outcome: "rejected", ...(status.reason ? { detail: status.reason } : {}) };
    }
    return {
      outcome: "accepted",
      operationId: status.id,
      detail: `operation ${status.id} is ${status.state}`,
    };
  } catch (err) {
    if (err instanceof PendingOperationError) {
      return { outcome: `refused:${err.kind}`, detail: err.message };
    }
    return { outcome: "failed", detail: (err as Error)?.message ?? String(err) };
  }
}

/** Takes every waiting request, oldest first, and records each answer. */
export async function takeOperatorRequests(deps: OperatorRequestDeps): Promise<number> {
  const waiting = deps.store.operatorRequests.waiting();
  for (const req of waiting) {
    const result = await carryOut(req, deps);
    deps.store.operatorRequests.finish(req.id, result);
    deps.logger.info("an operator request from the command line was carried out", {
      request: req.id,
      pending: req.pendingId,
      action: req.action,
      outcome: result.outcome,
    });
  }
  return waiting.length;
}

/**
 * The daemon's side of `felhom-agent pending approve|decline`: polls the store until `signal`
 * aborts. The daemon is the one process that writes operations and runs them; the command line
 * only queues what the operator asked and reads the answer.
 */
export async function runOperatorRequests(
  deps: OperatorRequestDeps & { clock: Clock; pollMs?: number },
  signal: AbortSignal,
): Promise<void> {
  const pollMs = deps.pollMs ?? OPERATOR_REQUEST_POLL_MS;
  while (!signal.aborted) {
    try {
      await takeOperatorRequests(deps);
    } catch (err) {
      deps.logger.warn("operator requests could not be read; trying again", { error: err });
    }
    await deps.clock.sleep(pollMs, signal).catch(() => {});
  }
}
