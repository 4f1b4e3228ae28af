import type { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import type { Clock } from "../util/clock.ts";
import { canonicalJsonArgument, StoreError } from "./errors.ts";
import { Quarantine, type QuarantinedRow, type QuarantineListener } from "./quarantine.ts";
import {
  checkLimit,
  checkOp,
  checkOptionalText,
  checkOptionalVmid,
  checkOrigin,
  checkText,
  type Origin,
} from "./validate.ts";

/**
 * - `pending`: destructive, no valid signature yet; kept and visible, never executed.
 * - `released`: a signed envelope bound to it arrived; `journalId` is the execution.
 * - `rejected`: refused (an envelope failed, or the operator declined).
 * - `expired`: nobody signed it in time.
 */
export type PendingStatus = "pending" | "released" | "rejected" | "expired";

export interface PendingOp {
  id: string;
  op: string;
  vmid: number | null;
  params: unknown;
  /** `params` as the canonical JSON the signature binding compares against. */
  paramsJson: string;
  origin: Origin;
  jobId: string | null;
  status: PendingStatus;
  /** Why it is held (the classifier's reason). */
  reason: string | null;
  /** Why it left `pending`. */
  resolution: string | null;
  journalId: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface HoldInput {
  op: string;
  vmid?: number | null;
  params?: unknown;
  origin: Origin;
  jobId?: string | null;
  reason?: string;
}

interface Row {
  id: string;
  op: string;
  vmid: number | null;
  params: string;
  origin: Origin;
  job_id: string | null;
  status: PendingStatus;
  reason: string | null;
  resolution: string | null;
  journal_id: number | null;
  created_at: number;
  updated_at: number;
}

function toOp(r: Row): PendingOp {
  return {
    id: r.id,
    op: r.op,
    vmid: r.vmid,
    params: JSON.parse(r.params),
    paramsJson: r.params,
    origin: r.origin,
    jobId: r.job_id,
    status: r.status,
    reason: r.reason,
    resolution: r.resolution,
    journalId: r.journal_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Operations held as `pending_signature` by the gate (docs/architecture.md#destructive-needs-a-signature, docs/architecture.md#signed-operations). */
export class PendingOps {
  private readonly quarantine: Quarantine;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    onQuarantine: QuarantineListener = () => {},
  ) {
    this.quarantine = new Quarantine(db, clock, onQuarantine);
  }

  /** Rows set aside because their params could not be read. */
  quarantined(): QuarantinedRow[] {
    return this.quarantine.list("pending_ops");
  }

  /**
   * The row, or undefined when its params (JSON that SQLite never checks) cannot be read: then
   * it is quarantined (kept, marked, reported once) instead of failing every list that meets
   * it, which would stop the status report and the expiry of held operations for good.
   */
  private read(row: Row): PendingOp | undefined {
    try {
      return toOp(row);
    } catch {
      this.quarantine.mark("pending_ops", row, "unreadable params");
      return undefined;
    }
  }

  /**
   * Holds an operation. A hub job is held once: holding the same job id again returns the
   * existing row (whatever its status) with `created: false`.
   */
  hold(input: HoldInput): { op: PendingOp; created: boolean } {
    const values = {
      op: checkOp(input.op),
      vmid: checkOptionalVmid(input.vmid),
      params: canonicalJsonArgument(input.params ?? {}),
      origin: checkOrigin(input.origin),
      jobId: checkOptionalText(input.jobId, "job id"),
      reason: checkOptionalText(input.reason, "reason", 1024),
    };
    return this.db
      .transaction(() => {
        if (values.jobId !== null) {
          const existing = this.db
            .query("SELECT * FROM pending_ops WHERE job_id = $jobId")
            .get({ jobId: values.jobId }) as Row | null;
          if (existing) {
            const op = this.read(existing);
            if (!op) {
              throw new StoreError({
                kind: "corrupt",
                message: `the held operation ${existing.id} of job ${values.jobId} cannot be read (quarantined); the job is not held again`,
              });
            }
            return { op, created: false };
          }
        }
        const id = `po-${randomBytes(8).toString("hex")}`;
        const now = this.clock.now();
        const row = this.db
          .query(
            `INSERT INTO pending_ops (id, op, vmid, params, origin, job_id, status, reason, created_at, updated_at)
             VALUES ($id, $op, $vmid, $params, $origin, $jobId, 'pending', $reason, $now, $now)
             RETURNING *`,
          )
          .get({ ...values, id, now }) as Row;
        return { op: toOp(row), created: true };
      })
      .immediate();
  }

  byId(id: string): PendingOp | undefined {
    const row = this.db
      .query("SELECT * FROM pending_ops WHERE id = $id")
      .get({ id: checkText(id, "pending id", 64) }) as Row | null;
    return row ? this.read(row) : undefined;
  }

  byJob(jobId: string): PendingOp | undefined {
    const row = this.db
      .query("SELECT * FROM pending_ops WHERE job_id = $jobId")
      .get({ jobId: checkText(jobId, "job id") }) as Row | null;
    return row ? this.read(row) : undefined;
  }

  /** Oldest first; all statuses unless one is named. */
  list(options: { status?: PendingStatus; limit?: number } = {}): PendingOp[] {
    const rows = this.db
      .query(
        `SELECT * FROM pending_ops WHERE ($status IS NULL OR status = $status)
         ORDER BY created_at, id LIMIT $limit`,
      )
      .all({ status: options.status ?? null, limit: checkLimit(options.limit ?? 1000) }) as Row[];
    return rows.flatMap((r) => this.read(r) ?? []);
  }

  /**
   * A signed envelope released it; `journalId` is the journal entry of its execution. Call it
   * inside the transaction that consumes the nonce and records the intent (recordSignedIntent).
   */
  release(id: string, journalId: number, resolution = "released by a valid signature"): PendingOp {
    return this.finish(id, "released", resolution, journalId);
  }

  reject(id: string, resolution: string): PendingOp {
    return this.finish(id, "rejected", resolution, null);
  }

  /** Expires every pending operation created before `olderThan`; returns how many. */
  expireOlderThan(olderThan: number, resolution = "no signature arrived in time"): number {
    return this.db
      .query(
        `UPDATE pending_ops SET status = 'expired', resolution = $resolution, updated_at = $now
         WHERE status = 'pending' AND created_at < $olderThan`,
      )
      .run({
        olderThan,
        resolution: checkText(resolution, "resolution", 1024),
        now: this.clock.now(),
      }).changes;
  }

  private finish(
    id: string,
    status: PendingStatus,
    resolution: string,
    journalId: number | null,
  ): PendingOp {
    const text = checkText(resolution, "resolution", 1024);
    return this.db
      .transaction(() => {
        const current = this.byId(id);
        if (!current) {
          throw new StoreError({ kind: "not_found", message: `no pending operation ${id}` });
        }
        const journalExists =
          journalId === null ||
          this.db.query("SELECT 1 AS hit FROM journal WHERE id = $journalId").get({ journalId }) !==
            null;
        if (!journalExists) {
          throw new StoreError({
            kind: "not_found",
            message: `no journal entry ${journalId} to record the release of ${id} against`,
          });
        }
        if (current.status !== "pending") {
          throw new StoreError({
            kind: "invalid_transition",
            message: `pending operation ${id} (${current.op}) is already ${current.status}; it cannot become ${status}`,
          });
        }
        const row = this.db
          .query(
            `UPDATE pending_ops SET status = $status, resolution = $resolution, journal_id = $journalId,
               updated_at = $now WHERE id = $id RETURNING *`,
          )
          .get({ id, status, resolution: text, journalId, now: this.clock.now() }) as Row;
        return toOp(row);
      })
      .immediate();
  }
}
