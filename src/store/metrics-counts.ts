import type { Database } from "bun:sqlite";

/**
 * Counts for `/metrics` (docs/health.md#metrics), read from what the store keeps: the journal
 * by operation and phase, and the gate's decisions in the audit log by outcome. Both tables
 * are pruned, so these are gauges of what is kept, not counters since the start.
 */
export function operationCounts(db: Database): { op: string; phase: string; count: number }[] {
  return db
    .query("SELECT op, phase, count(*) AS count FROM journal GROUP BY op, phase ORDER BY op, phase")
    .all() as { op: string; phase: string; count: number }[];
}

export function gateDecisionCounts(db: Database): { outcome: string; count: number }[] {
  return db
    .query(
      `SELECT outcome, count(*) AS count FROM audit
       WHERE outcome IN ('allowed', 'pending_signature') OR outcome LIKE 'rejected:%'
       GROUP BY outcome ORDER BY outcome`,
    )
    .all() as { outcome: string; count: number }[];
}
