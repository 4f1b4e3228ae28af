/**
 * Backup retention as PVE computes it (docs/proxmox-behaviour.md#vzdump-remove): the parsed
 * `prune-backups` property string and `prune_mark_backup_group`. The simulated host's local
 * time is UTC, as its archive names are.
 */

export const KEEP_KEYS = [
  "keep-last",
  "keep-hourly",
  "keep-daily",
  "keep-weekly",
  "keep-monthly",
  "keep-yearly",
] as const;

export type KeepKey = (typeof KEEP_KEYS)[number];

/** A validated retention: keep everything, or at least one positive keep-* count. */
export type Retention =
  | { keepAll: true }
  | { keepAll: false; keep: Partial<Record<KeepKey, number>> };

export type PruneMark = "keep" | "remove" | "protected";

export interface PruneEntry {
  volid: string;
  /** Epoch seconds. */
  ctime: number;
  mark?: PruneMark;
}

/**
 * pve-storage `validate_prune_backups`: no positive keep-* means keep-all; keep-all together
 * with a positive keep-* is an error (the text PVE dies with, without its newline). The input
 * is already checked against the property-string schema.
 */
export function parseRetention(text: string): Retention | { error: string } {
  const keep: Partial<Record<KeepKey, number>> = {};
  let keepAll = false;
  for (const part of text.split(",")) {
    const kv = /^\s*([a-z-]+)=(.+?)\s*$/.exec(part);
    if (!kv) continue;
    const [, key, value] = kv as unknown as [string, string, string];
    if (key === "keep-all") keepAll = /^(?:1|on|yes|true)$/i.test(value);
    else if ((KEEP_KEYS as readonly string[]).includes(key)) keep[key as KeepKey] = Number(value);
  }
  const positive = KEEP_KEYS.some((k) => (keep[k] ?? 0) > 0);
  if (!positive) return { keepAll: true };
  if (keepAll) return { error: "keep-all cannot be set together with other options." };
  return { keepAll: false, keep };
}

/** `keep-last=1, keep-daily=2`: the keys sorted, as vzdump logs them. */
export function formatRetention(r: Retention): string {
  if (r.keepAll) return "keep-all=1";
  return Object.keys(r.keep)
    .sort()
    .map((k) => `${k}=${r.keep[k as KeepKey]}`)
    .join(", ");
}

/** vzdump's `backup_limit`: the sum of the keep-* counts, 0 for keep-all. */
export function backupLimit(r: Retention): number {
  if (r.keepAll) return 0;
  return KEEP_KEYS.reduce((sum, k) => sum + (r.keep[k] ?? 0), 0);
}

function isoWeek(d: Date): string {
  // ISO 8601: the week with the year's first Thursday is week 1; weeks start on Monday.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() === 0 ? 7 : t.getUTCDay();
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${week}/${t.getUTCFullYear()}`;
}

const PERIOD: Record<KeepKey, (ctime: number) => string> = {
  "keep-last": (c) => String(c),
  "keep-hourly": (c) => {
    const d = new Date(c * 1000);
    return `${d.getUTCHours()}/${d.getUTCDate()}/${d.getUTCMonth()}/${d.getUTCFullYear()}`;
  },
  "keep-daily": (c) => {
    const d = new Date(c * 1000);
    return `${d.getUTCDate()}/${d.getUTCMonth()}/${d.getUTCFullYear()}`;
  },
  "keep-weekly": (c) => isoWeek(new Date(c * 1000)),
  "keep-monthly": (c) => {
    const d = new Date(c * 1000);
    return `${d.getUTCMonth()}/${d.getUTCFullYear()}`;
  },
  "keep-yearly": (c) => String(new Date(c * 1000).getUTCFullYear()),
};

/** One pass of pve-storage's `$prune_mark`. */
function markPass(entries: PruneEntry[], count: number | undefined, id: (c: number) => string) {
  if (!count) return;
  const already = new Set<string>();
  for (const e of entries) if (e.mark === "keep") already.add(id(e.ctime));
  const taken = new Set<string>();
  for (const e of entries) {
    const period = id(e.ctime);
    if (e.mark !== undefined || already.has(period)) continue;
    if (!taken.has(period)) {
      if (taken.size >= count) break;
      taken.add(period);
      e.mark = "keep";
    } else {
      e.mark = "remove";
    }
  }
}

/**
 * pve-storage `prune_mark_backup_group` over one guest's backups: entries already marked
 * `protected` keep that mark and count for nothing; the passes run keep-last, hourly, daily,
 * weekly, monthly, yearly over the group newest first; what no pass kept is `remove`.
 * Returns the entries newest first, marked.
 */
export function markBackupGroup(group: readonly PruneEntry[], r: Retention): PruneEntry[] {
  const list = group.map((e) => ({ ...e })).sort((a, b) => b.ctime - a.ctime);
  if (r.keepAll) {
    for (const e of list) if (e.mark === undefined || e.mark === "remove") e.mark = "keep";
    return list;
  }
  for (const k of KEEP_KEYS) markPass(list, r.keep[k], PERIOD[k]);
  for (const e of list) e.mark ??= "remove";
  return list;
}
