import type { BackupFreshness } from "../health/types.ts";
import { backupFreshness } from "../reconcile/backup-freshness.ts";
import type { Store } from "../store/store.ts";

/**
 * What the health monitor's backup-overdue rule reads (docs/health.md#alerts), from the backup
 * history the scheduler keeps (docs/reconcile.md#backup-schedule): per guest of the policy in
 * force, the newest good backup of its stalest tier, so a guest whose NAS tier stopped is
 * overdue even while its PBS tier is fresh. A tier with no good backup yet counts as null for
 * the guest (never backed up there: nothing to measure from). No policy: no guests.
 */
export function historyBackupFreshness(
  store: Pick<Store, "backupPolicies" | "backupHistory">,
  vmids: () => readonly number[],
  now: () => number,
): BackupFreshness[] {
  const inForce = store.backupPolicies.inForce();
  if (inForce === undefined) return [];
  const tiers = backupFreshness(inForce.policy, vmids(), store.backupHistory.summaries(), now());
  const stalest = new Map<number, number | null>();
  for (const t of tiers) {
    const at = t.last_good_at === null ? null : Date.parse(t.last_good_at);
    const seen = stalest.get(t.vmid);
    if (seen === undefined) stalest.set(t.vmid, at);
    else if (seen !== null) stalest.set(t.vmid, at === null ? null : Math.min(seen, at));
  }
  return [...stalest].map(([vmid, lastSuccessAt]) => ({ vmid, lastSuccessAt }));
}
