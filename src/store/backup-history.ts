import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkVmid } from "./validate.ts";

/**
 * `ok`/`failed`: the agent's own run; `seen`: found in a content listing; `removed`: pruned by
 * retention or gone from the listing (the row stays, with why and when).
 */
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
  /** The guest's config digest when the backup was taken of it stopped; null otherwise. */
  configDigest?: string | null;
  /** The archive is protected (PVE neither prunes nor deletes it). */
  protected?: boolean;
  /** When the archive was removed (`removed` rows). */
  removedAt?: number | null;
  /** When the guest was last found stopped and unchanged since this backup. */
  unchangedAt?: number | null;
}

/** The newest good backup of a guest on a tier, for the stopped-and-unchanged check. */
export interface NewestGood {
  volid: string | null;
  startedAt: number | null;
  finishedAt: number;
  configDigest: string | null;
  unchangedAt: number | null;
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
  config_digest: string | null;
  protected: number;
  removed_at: number | null;
  unchanged_at: number | null;
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
  configDigest: r.config_digest,
  protected: r.protected === 1,
  removedAt: r.removed_at,
  unchangedAt: r.unchanged_at,
});

/** Per guest per tier, what the scheduler plans from (src/reconcile/backup-due.ts). */
export interface TierSummary {
  vmid: number;
  storage: string;
  lastGoodAt?: number;
  /** The newest good backup still stands for the guest (stopped, unchanged) as of this time. */
  unchangedAt?: number;
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
           size, reason, log_tail, journal_id, config_digest, protected)
         VALUES ($vmid, $storage, $volid, $result, $started, $finished, $size, $reason, $log,
           $journal, $digest, $protected)
         ON CONFLICT (volid) WHERE volid IS NOT NULL DO UPDATE SET
           result = CASE WHEN backup_history.result = 'ok' AND excluded.result = 'seen'
                         THEN 'ok' ELSE excluded.result END,
           size = coalesce(excluded.size, backup_history.size),
           finished_at = max(excluded.finished_at, backup_history.finished_at),
           journal_id = coalesce(excluded.journal_id, backup_history.journal_id),
           config_digest = coalesce(excluded.config_digest, backup_history.config_digest),
           protected = max(excluded.protected, backup_history.protected)`,
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
        digest: input.configDigest?.slice(0, 128) ?? null,
        protected: input.protected === true ? 1 : 0,
      });
  }

  /**
   * Archives retention removed, or that left the storage's listing: each row becomes
   * `removed` with why and when; an archive the history never knew gets a row of its own.
   * Freshness and the schedule no longer count them.
   */
  markRemoved(
    entries: readonly { vmid: number; storage: string; volid: string; ctimeMs?: number }[],
    reason: string,
    at: number = this.clock.now(),
  ): number {
    const why = reason.slice(0, 2000);
    let changed = 0;
    const update = this.db.query(
      `UPDATE backup_history SET result = 'removed', reason = $reason, removed_at = $at
       WHERE volid = $volid AND result <> 'removed'`,
    );
    const insert = this.db.query(
      `INSERT INTO backup_history (vmid, storage, volid, result, finished_at, reason, removed_at)
       VALUES ($vmid, $storage, $volid, 'removed', $finished, $reason, $at)
       ON CONFLICT (volid) WHERE volid IS NOT NULL DO NOTHING`,
    );
    this.db.transaction(() => {
      for (const e of entries) {
        checkVmid(e.vmid);
        const u = update.run({ volid: e.volid, reason: why, at });
        if (u.changes > 0) {
          changed += u.changes;
          continue;
        }
        changed += insert.run({
          vmid: e.vmid,
          storage: e.storage,
          volid: e.volid,
          finished: e.ctimeMs ?? at,
          reason: why,
          at,
        }).changes;
      }
    })();
    return changed;
  }

  /** The archive is now protected (the agent marked it, or a listing said so). */
  markProtected(volid: string): void {
    this.db.query("UPDATE backup_history SET protected = 1 WHERE volid = $volid").run({ volid });
  }

  /** The archives of a storage the history counts as present (`ok`, `seen`), with their guest. */
  present(storage: string): { vmid: number; volid: string }[] {
    return this.db
      .query(
        `SELECT vmid, volid FROM backup_history
         WHERE storage = $storage AND volid IS NOT NULL AND result IN ('ok', 'seen')`,
      )
      .all({ storage }) as { vmid: number; volid: string }[];
  }

  /** The newest good backup of one guest on one tier, if any. */
  newestGood(vmid: number, storage: string): NewestGood | undefined {
    const r = this.db
      .query(
        `SELECT volid, started_at, finished_at, config_digest, unchanged_at FROM backup_history
         WHERE vmid = $vmid AND storage = $storage AND result IN ('ok', 'seen')
         ORDER BY finished_at DESC, id DESC LIMIT 1`,
      )
      .get({ vmid: checkVmid(vmid), storage }) as {
      volid: string | null;
      started_at: number | null;
      finished_at: number;
      config_digest: string | null;
      unchanged_at: number | null;
    } | null;
    if (r === null) return undefined;
    return {
      volid: r.volid,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      configDigest: r.config_digest,
      unchangedAt: r.unchanged_at,
    };
  }

  /**
   * The guest was found stopped and unchanged since its newest good backup on the tier: that
   * backup stands for this period too (docs/reconcile.md#stopped-and-unchanged-guests).
   */
  markUnchanged(vmid: number, storage: string, at: number = this.clock.now()): void {
    this.db
      .query(
        `UPDATE backup_history SET unchanged_at = $at WHERE id = (
           SELECT id FROM backup_history
           WHERE vmid = $vmid AND storage = $storage AND result IN ('ok', 'seen')
           ORDER BY finished_at DESC, id DESC LIMIT 1)`,
      )
      .run({ vmid: checkVmid(vmid), storage, at });
  }

  /** Whether the settled journal entry `journalId` is recorded already. */
  hasJournal(journalId: number): boolean {
    return (
      this.db
        .query("SELECT 1 FROM backup_history WHERE journal_id = $id")
        .get({ id: journalId }) !== null
    );
  }

  /** Newest first; `vmid` narrows to one guest; `removed` rows only with `all`. */
  list(o: { vmid?: number; limit?: number; all?: boolean } = {}): BackupRecord[] {
    const limit = Math.min(Math.max(o.limit ?? 1000, 1), 100_000);
    const removed = o.all === true ? "" : "AND result <> 'removed'";
    const rows =
      o.vmid === undefined
        ? this.db
            .query(
              `SELECT * FROM backup_history WHERE 1 ${removed}
               ORDER BY finished_at DESC, id DESC LIMIT $limit`,
            )
            .all({ limit })
        : this.db
            .query(
              `SELECT * FROM backup_history WHERE vmid = $vmid ${removed}
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
           max(CASE WHEN result IN ('ok', 'seen') THEN unchanged_at END) AS unchanged,
           max(CASE WHEN result = 'failed' THEN finished_at END) AS last_failed,
           sum(CASE WHEN result IN ('ok', 'seen') THEN 1 ELSE 0 END) AS good_count,
           sum(CASE WHEN result IN ('ok', 'seen') THEN coalesce(size, 0) ELSE 0 END) AS good_bytes,
           -- The reason is looked up only for the few guests and tiers with a failure.
           CASE WHEN max(CASE WHEN result = 'failed' THEN finished_at END) IS NOT NULL THEN
             (SELECT h2.reason FROM backup_history h2 WHERE h2.vmid = h.vmid
                AND h2.storage = h.storage AND h2.result = 'failed'
                ORDER BY h2.finished_at DESC, h2.id DESC LIMIT 1) END AS last_reason
         FROM backup_history h GROUP BY vmid, storage`,
      )
      .all() as {
      vmid: number;
      storage: string;
      last_good: number | null;
      unchanged: number | null;
      last_failed: number | null;
      good_count: number;
      good_bytes: number;
      last_reason: string | null;
    }[];
    return rows.map((r) => ({
      vmid: r.vmid,
      storage: r.storage,
      ...(r.last_good === null ? {} : { lastGoodAt: r.last_good }),
      ...(r.unchanged === null ? {} : { unchangedAt: r.unchanged }),
      ...(r.last_failed === null || (r.last_good !== null && r.last_failed < r.last_good)
        ? {}
        : { lastFailedAt: r.last_failed }),
      ...(r.last_reason === null ? {} : { lastFailureReason: r.last_reason }),
      goodCount: r.good_count,
      goodBytes: r.good_bytes,
    }));
  }
}
