import type { BackupPolicy, BackupSchedule } from "../ops/params/backup-policy.ts";
import type { TierSummary } from "../store/backup-history.ts";
import { guestTiers } from "./backup-due.ts";

/** One guest on one tier as the hub's report carries it (docs/hub-protocol.md#reports). */
export interface BackupFreshness {
  vmid: number;
  storage: string;
  /** The newest good backup, ISO time; null when there is none. */
  last_good_at: string | null;
  /** Seconds since it; null when there is none. */
  age_s: number | null;
  count: number;
  bytes: number;
  last_failure: { at: string; reason: string } | null;
  /**
   * When the guest was last found stopped and unchanged since that backup, so the backup
   * still stands for it (docs/reconcile.md#stopped-and-unchanged-guests); null otherwise.
   */
  unchanged_at: string | null;
  /**
   * No good backup for more than twice the tier's period (or none at all); a stopped guest
   * found unchanged since its newest good backup counts as covered from then.
   */
  overdue: boolean;
}

/** The length of one period of a schedule, ms: a day for a daily window. */
export function periodMs(s: BackupSchedule): number {
  return "every_hours" in s ? s.every_hours * 3_600_000 : 86_400_000;
}

/**
 * Per guest per tier of the policy in force, from the store's history: how fresh the newest
 * good backup is, and whether the guest is overdue. Pure; guests are the ones the policy
 * covers among `vmids`.
 */
export function backupFreshness(
  policy: BackupPolicy,
  vmids: readonly number[],
  summaries: readonly TierSummary[],
  nowMs: number,
): BackupFreshness[] {
  const byKey = new Map(summaries.map((s) => [`${s.vmid}/${s.storage}`, s]));
  const out: BackupFreshness[] = [];
  for (const vmid of [...vmids].sort((a, b) => a - b)) {
    for (const [storage, tier] of guestTiers(policy, vmid)) {
      const s = byKey.get(`${vmid}/${storage}`);
      const good = s?.lastGoodAt;
      const age = good === undefined ? null : Math.max(0, Math.floor((nowMs - good) / 1000));
      // Only a confirmation after the newest backup says anything about the guest now.
      const unchanged =
        good !== undefined && s?.unchangedAt !== undefined && s.unchangedAt > good
          ? s.unchangedAt
          : undefined;
      const covered = Math.max(good ?? 0, unchanged ?? 0);
      out.push({
        vmid,
        storage,
        last_good_at: good === undefined ? null : new Date(good).toISOString(),
        age_s: age,
        count: s?.goodCount ?? 0,
        bytes: s?.goodBytes ?? 0,
        last_failure:
          s?.lastFailedAt === undefined
            ? null
            : {
                at: new Date(s.lastFailedAt).toISOString(),
                reason: s.lastFailureReason ?? "failed",
              },
        unchanged_at: unchanged === undefined ? null : new Date(unchanged).toISOString(),
        overdue: good === undefined || nowMs - covered > 2 * periodMs(tier.schedule),
      });
    }
  }
  return out;
}
