import { PROVENANCE_LOOKBACK } from "../gate/provenance.ts";
import type { Logger } from "../log/types.ts";
import type { StateConfig } from "../store/config-section.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";

const DAY_MS = 86_400_000;
/** Pruning is cheap but not free; once an hour is plenty for a retention counted in days. */
const PRUNE_EVERY_MS = 3_600_000;

export interface StoreUpkeepOptions {
  store: Store;
  config: StateConfig;
  clock: Clock;
  logger: Logger;
}

export interface CheckpointResult {
  /** True when a reader kept the checkpoint from completing; the next pass tries again. */
  busy: boolean;
  /** WAL frames present, and how many were copied into the main file. */
  walFrames: number;
  checkpointed: number;
}

/**
 * What the daemon does to its store around every reconcile pass (src/store/README.md#upkeep):
 * before a pass, make sure the database it holds is still the one at its path (else nothing may
 * change: throws StoreError `replaced`); after a pass, checkpoint the WAL into the main file so
 * the main file is never far behind, and prune finished journal entries past the retention.
 */
export class StoreUpkeep {
  private lastPruneAt: number | undefined;

  constructor(private readonly o: StoreUpkeepOptions) {}

  beforePass(): void {
    this.o.store.checkIntact();
  }

  afterPass(): void {
    try {
      const cp = this.checkpoint();
      if (cp.busy) {
        this.o.logger.debug("WAL checkpoint left for the next pass: a reader was active", {
          wal_frames: cp.walFrames,
        });
      }
    } catch (err) {
      this.o.logger.warn("WAL checkpoint failed", { error: err });
    }
    const now = this.o.clock.now();
    if (this.lastPruneAt !== undefined && now - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    try {
      const pruned = this.o.store.journal.prune({
        before: now - this.o.config.journal_retention_days * DAY_MS,
        provenanceLookback: PROVENANCE_LOOKBACK,
      });
      if (pruned > 0) {
        this.o.logger.info("finished journal entries past the retention pruned", {
          pruned,
          retention_days: this.o.config.journal_retention_days,
        });
      }
    } catch (err) {
      this.o.logger.warn("journal pruning failed", { error: err });
    }
  }

  /**
   * `wal_checkpoint(TRUNCATE)`: copies every WAL frame into the main file, fsyncs it and
   * empties the WAL, so a plain copy of state.db between passes holds all committed data.
   */
  checkpoint(): CheckpointResult {
    const db = this.o.store.db;
    // TRUNCATE waits for readers through the busy handler, and bun:sqlite is synchronous: with
    // the store's 5 s busy timeout a reading side command could stall the whole daemon. With
    // none, it copies what it can and reports busy; the next pass finishes the job.
    const timeout = (db.query("PRAGMA busy_timeout").get() as { timeout: number } | null)?.timeout;
    db.run("PRAGMA busy_timeout = 0");
    let row: { busy: number; log: number; checkpointed: number } | null;
    try {
      row = db.query("PRAGMA wal_checkpoint(TRUNCATE)").get() as typeof row;
    } finally {
      db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(timeout ?? 5000))}`);
    }
    return {
      busy: (row?.busy ?? 0) !== 0,
      walFrames: row?.log ?? 0,
      checkpointed: row?.checkpointed ?? 0,
    };
  }
}
