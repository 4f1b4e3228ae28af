import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { checkOptionalText, checkVmid } from "./validate.ts";

/** A backup asked with `felhom-agent backup run`, and what became of it. */
export interface BackupRequest {
  id: number;
  vmid: number;
  storage: string | null;
  state: "waiting" | "done";
  /** The operation's state when submitted (`queued`, `running`, `pending_signature`, `rejected`), or `failed`. */
  outcome: string | null;
  operationId: string | null;
  detail: string | null;
  createdAt: number;
}

interface Row {
  id: number;
  vmid: number;
  storage: string | null;
  state: "waiting" | "done";
  outcome: string | null;
  operation_id: string | null;
  detail: string | null;
  created_at: number;
}

const toRequest = (r: Row): BackupRequest => ({
  id: r.id,
  vmid: r.vmid,
  storage: r.storage,
  state: r.state,
  outcome: r.outcome,
  operationId: r.operation_id,
  detail: r.detail,
  createdAt: r.created_at,
});

/**
 * Backups asked on the host's command line (src/store/README.md#backup-policy-and-history): the
 * CLI queues one, the daemon submits it to the engine like any other operation and records
 * the outcome; the CLI reads it back.
 */
export class BackupRequests {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  queue(vmid: number, storage?: string): BackupRequest {
    const now = this.clock.now();
    const row = this.db
      .query(
        `INSERT INTO backup_requests (vmid, storage, state, created_at, updated_at)
         VALUES ($vmid, $storage, 'waiting', $now, $now) RETURNING *`,
      )
      .get({
        vmid: checkVmid(vmid),
        storage: checkOptionalText(storage, "storage", 64),
        now,
      }) as Row;
    return toRequest(row);
  }

  waiting(): BackupRequest[] {
    return (
      this.db
        .query("SELECT * FROM backup_requests WHERE state = 'waiting' ORDER BY id")
        .all() as Row[]
    ).map(toRequest);
  }

  byId(id: number): BackupRequest | undefined {
    const row = this.db.query("SELECT * FROM backup_requests WHERE id = $id").get({ id });
    return row ? toRequest(row as Row) : undefined;
  }

  finish(id: number, outcome: string, operationId?: string, detail?: string): void {
    this.db
      .query(
        `UPDATE backup_requests SET state = 'done', outcome = $outcome, operation_id = $op,
           detail = $detail, updated_at = $now WHERE id = $id AND state = 'waiting'`,
      )
      .run({
        id,
        outcome: outcome.slice(0, 64),
        op: operationId ?? null,
        detail: detail?.slice(0, 1000) ?? null,
        now: this.clock.now(),
      });
  }
}
