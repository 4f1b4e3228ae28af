import type { Database } from "bun:sqlite";
import { invalidArgument } from "./errors.ts";
import { isQuarantinedSql } from "./quarantine.ts";

export interface JournalPruneOptions {
  /** Finished entries last updated before this instant (ms) may go. */
  before: number;
  /**
   * How many of a guest's newest entries the gate reads for provenance (PROVENANCE_LOOKBACK in
   * src/gate/provenance.ts); an entry with provenance inside that window is kept.
   */
  provenanceLookback: number;
}

/**
 * Deletes finished journal entries older than the retention, except those something still
 * reads (src/store/README.md#journal-retention):
 * - held operations (`pending_ops.journal_id`) and guest overrides (`guest_overrides.journal_id`)
 *   point at their entry;
 * - an entry with provenance proves the agent created a guest or snapshot, as long as it is
 *   among the guest's newest `provenanceLookback` entries and no later destroy of that guest
 *   (one that did not fail) ends its meaning;
 * - a quarantined entry (journal.ts) is kept for whoever investigates it;
 * - a destroy that ends such an entry stays while that entry does, or pruning would let the
 *   older creation count again.
 * Returns how many entries were deleted. One statement: the set is chosen before any is removed.
 */
export function pruneJournal(db: Database, o: JournalPruneOptions): number {
  if (!Number.isSafeInteger(o.before) || o.before < 0) {
    throw invalidArgument(`prune cutoff must be a non-negative integer, got ${o.before}`);
  }
  if (!Number.isSafeInteger(o.provenanceLookback) || o.provenanceLookback < 1) {
    throw invalidArgument(`provenance lookback must be a positive integer`);
  }
  const result = db
    .query(
      `DELETE FROM journal WHERE id IN (
         SELECT j.id FROM journal j
         WHERE j.phase IN ('done', 'failed', 'abandoned')
           AND j.updated_at < $before
           AND NOT EXISTS (SELECT 1 FROM pending_ops p WHERE p.journal_id = j.id)
           AND NOT EXISTS (SELECT 1 FROM guest_overrides g WHERE g.journal_id = j.id)
           AND NOT ${isQuarantinedSql("journal", "j")}
           AND (
             j.provenance IS NULL OR j.vmid IS NULL
             OR EXISTS (SELECT 1 FROM journal d WHERE d.vmid = j.vmid AND d.id > j.id
                          AND d.op = 'guest.destroy' AND d.phase <> 'failed')
             OR (SELECT COUNT(*) FROM journal n WHERE n.vmid = j.vmid AND n.id > j.id)
                  >= $lookback
           )
           AND NOT (
             j.op = 'guest.destroy' AND j.phase <> 'failed'
             AND EXISTS (SELECT 1 FROM journal o WHERE o.vmid = j.vmid AND o.id < j.id
                           AND o.provenance IS NOT NULL)
           )
       )`,
    )
    .run({ before: o.before, lookback: o.provenanceLookback });
  return result.changes;
}
