import type { PruneMarkEntry } from "./backup-floor.ts";

/**
 * A tier's monthly point (docs/reconcile.md#protected-monthly-points): with `protected_monthly`,
 * the first backup of each month on the tier is marked protected, so neither PVE's pruning nor a
 * delete removes it. Pure: from the prune dry run the retention step just decided on.
 */

const MONTH = (ms: number) => {
  const d = new Date(ms);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};

/**
 * The backup to protect now, if any: among this month's backups (host local time) that stay
 * (not among `removed`, what the retention step is about to prune), the oldest, unless one of
 * this month is protected already. Backups outside PVE's naming (`renamed`) are never chosen. Only the current month
 * is looked at, so turning the option on protects from this month on, one backup a month.
 */
export function monthlyPointToProtect(
  marks: readonly PruneMarkEntry[],
  removed: ReadonlySet<string>,
  nowMs: number,
  utcOffsetMs: number,
): string | undefined {
  const month = MONTH(nowMs + utcOffsetMs);
  const thisMonth = marks.filter((m) => MONTH(m.ctime * 1000 + utcOffsetMs) === month);
  if (thisMonth.some((m) => m.mark === "protected")) return undefined;
  const staying = thisMonth
    .filter((m) => (m.mark === "keep" || m.mark === "remove") && !removed.has(m.volid))
    .sort((a, b) => a.ctime - b.ctime || (a.volid < b.volid ? -1 : 1));
  return staying[0]?.volid;
}
