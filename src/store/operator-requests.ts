import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkLimit, checkOptionalText, checkText } from "./validate.ts";

export type OperatorAction = "approve" | "decline";

/**
 * An operator's approval (with a signed envelope) or decline (with a reason) of one held
 * operation, written by `felhom-agent pending` and carried out by the daemon
 * (src/store/README.md#operator-requests). `outcome` is the gate's answer: `accepted`,
 * `rejected:<reason>`, `declined`, or `refused:<why>` when the held operation could not take it.
 */
export interface OperatorRequest {
  id: number;
  pendingId: string;
  action: OperatorAction;
  /** The envelope as the operator handed it (JSON text); approvals only. */
  envelope: string | null;
  /** Why the operator declined; declines only. */
  reason: string | null;
  state: "waiting" | "done";
  outcome: string | null;
  detail: string | null;
  /** The operation the approval released, once it runs. */
  operationId: string | null;
  createdAt: number;
  updatedAt: number;
}

export type OperatorRequestInput =
  | { pendingId: string; action: "approve"; envelope: string }
  | { pendingId: string; action: "decline"; reason: string };

export interface OperatorRequestResult {
  outcome: string;
  detail?: string;
  operationId?: string;
}

interface Row {
  id: number;
  pending_id: string;
  action: OperatorAction;
  envelope: string | null;
  reason: string | null;
  state: "waiting" | "done";
  outcome: string | null;
  detail: string | null;
  operation_id: string | null;
  created_at: number;
  updated_at: number;
}

const toRequest = (r: Row): OperatorRequest => ({
  id: r.id,
  pendingId: r.pending_id,
  action: r.action,
  envelope: r.envelope,
  reason: r.reason,
  state: r.state,
  outcome: r.outcome,
  detail: r.detail,
  operationId: r.operation_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Control characters become spaces, so a detail stays one line. */
function oneLine(text: string): string {
  return Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? " " : c;
  }).join("");
}

/** Envelopes are small; anything larger is not one. */
export const MAX_ENVELOPE_TEXT = 65_536;

export class OperatorRequests {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Queues one request; the command line writes it, the daemon takes it. */
  add(input: OperatorRequestInput): OperatorRequest {
    const pendingId = checkText(input.pendingId, "pending id", 64);
    let envelope: string | null = null;
    let reason: string | null = null;
    if (input.action === "approve") {
      if (typeof input.envelope !== "string" || input.envelope.length === 0) {
        throw invalidArgument("an approval needs its envelope");
      }
      if (input.envelope.length > MAX_ENVELOPE_TEXT) {
        throw invalidArgument(`the envelope is larger than ${MAX_ENVELOPE_TEXT} characters`);
      }
      envelope = input.envelope;
    } else if (input.action === "decline") {
      reason = checkText(input.reason, "reason", 500);
    } else {
      throw invalidArgument("action must be approve or decline");
    }
    const now = this.clock.now();
    const row = this.db
      .query(
        `INSERT INTO operator_requests
           (pending_id, action, envelope, reason, state, created_at, updated_at)
         VALUES ($pending, $action, $envelope, $reason, 'waiting', $now, $now)
         RETURNING *`,
      )
      .get({ pending: pendingId, action: input.action, envelope, reason, now }) as Row;
    return toRequest(row);
  }

  byId(id: number): OperatorRequest | undefined {
    const row = this.db
      .query("SELECT * FROM operator_requests WHERE id = $id")
      .get({ id }) as Row | null;
    return row ? toRequest(row) : undefined;
  }

  /** Oldest first, so two requests for one held operation are decided in the order asked. */
  waiting(limit = 100): OperatorRequest[] {
    return (
      this.db
        .query("SELECT * FROM operator_requests WHERE state = 'waiting' ORDER BY id LIMIT $limit")
        .all({ limit: checkLimit(limit, 1000) }) as Row[]
    ).map(toRequest);
  }

  /** Records the daemon's answer; a request is answered once. */
  finish(id: number, result: OperatorRequestResult): OperatorRequest {
    const outcome = checkText(result.outcome, "outcome", 128);
    // Details come from verifiers and executors; one line, bounded, whatever they said.
    const detail = checkOptionalText(
      oneLine(result.detail ?? "").slice(0, 1000) || undefined,
      "detail",
      1000,
    );
    const operationId = checkOptionalText(result.operationId, "operation id", 256);
    const row = this.db
      .query(
        `UPDATE operator_requests
         SET state = 'done', outcome = $outcome, detail = $detail, operation_id = $op,
             updated_at = $now
         WHERE id = $id AND state = 'waiting'
         RETURNING *`,
      )
      .get({ id, outcome, detail, op: operationId, now: this.clock.now() }) as Row | null;
    if (!row) throw invalidArgument(`operator request ${id} is not waiting`);
    return toRequest(row);
  }
}
