import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkVmid } from "./validate.ts";

/** `ok`/`failed`: the agent's own run; `seen`: found in a content listing; `removed`: pruned. */
export type BackupResult = "ok" | "failed" | "seen" | "removed";

export interface BackupRecord {
  vmid: number;
  storage: string;
  volid: string | null;
  result: BackupResult;
  startedAt: number | null;
  finishedAt: number;
  size: number | null;
  reason: string | null;
  logTail: string | null;
  journalId: number | null;
}

interface Row {
  vmid: number;
  storage: string;
  volid: string | null;
  result: BackupResult;
  started_at: number | null;
  finished_at: number;
  size: number | null;
  reason: string | null;
  log_tail: string | null;
  journal_id: number | null;
}

const toRecord = (r: Row): BackupRecord => ({
  vmid: r.vmid,
  storage: r.storage,
  volid: r.volid,
  result: r.result,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  size: r.size,
  reason: r.reason,
  logTail: r.log_tail,
  journalId: r.journal_id,
});

/** Per guest per tier, what the scheduler plans from (src/reconcile/backup-due.ts). */
export interface TierSummary {
  vmid: number;
  storage: string;
  lastGoodAt?: number;
  lastFailedAt?: number;
  lastFailureReason?: string;
  goodCount: number;
  goodBytes: number;
}

const RESULTS: readonly BackupResult[] = ["ok", "failed", "seen", "removed"];

/**
 * Backup history (src/store/README.md#backup-policy-and-history). An archive is one row: a run
 * the agent made, later seen in a listing, stays `ok`; a row whose archive is gone is `removed`.
 */
export class BackupHistory {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  record(input: Omit<BackupRecord, "finishedAt"> & { finishedAt?: number }): void {
    checkVmid(input.vmid);
    if (!RESULTS.includes(input.result)) {
      throw invalidArgument(`result must be one of ${RESULTS.join(", ")}`);
    }
    this.db
      .query(
        `INSERT INTO backup_history (vmid, storage, volid, result, started_at, finished_at,
           size, reason, log_tail, journal_id)
         VALUES ($vmid, $storage, $volid, $result, $started, $finished, $size, $reason, $log, $journal)
         ON CONFLICT (volid) WHERE volid IS NOT NULL DO UPDATE SET
           result = CASE WHEN backup_history.result = 'ok' AND excluded.result = 'seen'
                         THEN 'ok' ELSE excluded.result END,
           size = coalesce(excluded.size, backup_history.size),
           finished_at = max(excluded.finished_at, backup_history.finished_at),
           journal_id = coalesce(excluded.journal_id, backup_history.journal_id)`,
      )
      .run({
        vmid: input.vmid,
        storage: input.storage,
        volid: input.volid,
        result: input.result,
        started: input.startedAt,
        finished: input.finishedAt ?? this.clock.now(),
        size: input.size,
        reason: input.reason?.slice(0, 2000) ?? null,
        log: input.logTail?.slice(-8192) ?? null,
        journal: input.journalId,
      });
  }

  /** Whether the settled journal entry `journalId` is recorded already. */
  hasJournal(journalId: number): boolean {
    return (
      this.db
        .query("SELECT 1 FROM backup_history WHERE journal_id = $id")
        .get({ id: journalId }) !== null
    );
  }

  /** Newest first; `vmid` narrows to one guest. */
  list(o: { vmid?: number; limit?: number } = {}): BackupRecord[] {
    const limit = Math.min(Math.max(o.limit ?? 1000, 1), 100_000);
    const rows =
      o.vmid === undefined
        ? this.db
            .query("SELECT * FROM backup_history ORDER BY finished_at DESC, id DESC LIMIT $limit")
            .all({ limit })
        : this.db
            .query(
              `SELECT * FROM backup_history WHERE vmid = $vmid
               ORDER BY finished_at DESC, id DESC LIMIT $limit`,
            )
            .all({ vmid: checkVmid(o.vmid), limit });
    return (rows as Row[]).map(toRecord);
  }

  /** One aggregate per guest per tier: one query, what a scheduler tick reads. */
  summaries(): TierSummary[] {
    const rows = this.db
      .query(
        `SELECT vmid, storage,
           max(CASE WHEN result IN ('ok', 'seen') THEN finished_at END) AS last_good,
           max(CASE WHEN result = 'failed' THEN finished_at END) AS last_failed,
           sum(CASE WHEN result IN ('ok', 'seen') THEN 1 ELSE 0 END) AS good_count,
           sum(CASE WHEN result IN ('ok', 'seen') THEN coalesce(size, 0) ELSE 0 END) AS good_bytes,
           (SELECT h2.reason FROM backup_history h2 WHERE h2.vmid = h.vmid
              AND h2.storage = h.storage AND h2.result = 'failed'
              ORDER BY h2.finished_at DESC, h2.id DESC LIMIT 1) AS last_reason
         FROM backup_history h GROUP BY vmid, storage`,
      )
      .all() as {
      vmid: number;
      storage: string;
      last_good: number | null;
      last_failed: number | null;
      good_count: number;
      good_bytes: number;
      last_reason: string | null;
    }[];
    return rows.map((r) => ({
      vmid: r.vmid,
      storage: r.storage,
      ...(r.last_good === null ? {} : { lastGoodAt: r.last_good }),
      ...(r.last_failed === null || (r.last_good !== null && r.last_failed < r.last_good)
        ? {}
        : { lastFailedAt: r.last_failed }),
      ...(r.last_reason === null ? {} : { lastFailureReason: r.last_reason }),
      goodCount: r.good_count,
      goodBytes: r.good_bytes,
    }));
  }
}
