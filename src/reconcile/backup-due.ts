import type { BackupPolicy, BackupSchedule, BackupTier } from "../ops/params/backup-policy.ts";

/**
 * The due-time planner of scheduled backups (docs/reconcile.md#backup-schedule): pure, from the
 * policy in force, the guests and what the store knows of each guest's backups. A steady tick
 * with nothing due reads only the store, never Proxmox.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A guest as the scheduler sees it. */
export interface ScheduleGuest {
  vmid: number;
  status: "running" | "stopped";
  /** PVE's `lock` (`backup`, `snapshot`, `migrate`, …), when set. */
  lock?: string;
  /** An operation of the engine is queued or running on it. */
  busy?: boolean;
}

/** What the store knows about one guest on one tier. */
export interface TierHistory {
  /** When the newest good backup finished, epoch ms. */
  lastGoodAt?: number;
  /**
   * When the guest was last found stopped and unchanged since that backup, epoch ms: the
   * backup stands for the period this falls in (docs/reconcile.md#stopped-and-unchanged-guests).
   */
  unchangedAt?: number;
  /** When the newest failed attempt ended, epoch ms (newer than `lastGoodAt` or absent). */
  lastFailedAt?: number;
  /** A backup of it to this tier is journaled and not yet settled. */
  inFlight?: boolean;
}

export interface DueInput {
  policy: BackupPolicy;
  guests: readonly ScheduleGuest[];
  /** Keyed by `historyKey(vmid, storage)`. */
  history: ReadonlyMap<string, TierHistory>;
  nowMs: number;
  /** When this scheduler started: missed periods are caught up from here, once. */
  startedAtMs: number;
  /** A caught-up backup starts within this spread after `startedAtMs` (`backup.catchup_jitter_s`). */
  catchupJitterMs: number;
  /** Backups running now, and how many may run at once (`backup.concurrency`). */
  running: number;
  concurrency: number;
  /** A failed attempt is retried no sooner than this after it ended. */
  retryAfterMs: number;
  /** Offset of the host's local time from UTC, ms, for daily windows. */
  utcOffsetMs: number;
  /** Stable per host, so each host spreads its guests differently but always the same way. */
  seed: string;
}

export interface DueBackup {
  vmid: number;
  storage: string;
  tier: BackupTier;
  /** Start of the period this backup is for, epoch ms. */
  periodStartMs: number;
  /** Earliest start, epoch ms. */
  notBeforeMs: number;
  /** `scheduled` in its window; `catch_up` for a period missed while the agent was down. */
  reason: "scheduled" | "catch_up" | "retry";
}

export type SkipReason = "excluded" | "locked" | "busy" | "in_flight" | "stopped_unchanged";

export interface DuePlan {
  /** Due now, within the free concurrency, in start order. */
  start: DueBackup[];
  /** Due but not yet (its slot is later) or waiting for a free slot. */
  waiting: DueBackup[];
  skipped: { vmid: number; storage: string; reason: SkipReason; detail: string }[];
}

export const historyKey = (vmid: number, storage: string): string => `${vmid}/${storage}`;

/** FNV-1a: a stable, cheap spread, not a secret. */
function spread(text: string, range: number): number {
  if (range <= 0) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % range;
}

/** The period `nowMs` is in, and the window inside it where its backups start. */
export function currentPeriod(
  schedule: BackupSchedule,
  nowMs: number,
  utcOffsetMs: number,
): { startMs: number; windowEndMs: number; lengthMs: number } {
  if ("every_hours" in schedule) {
    const lengthMs = schedule.every_hours * HOUR_MS;
    const startMs = Math.floor(nowMs / lengthMs) * lengthMs;
    // Starts spread over the first half, so a backup ends well inside its period.
    return { startMs, windowEndMs: startMs + lengthMs / 2, lengthMs };
  }
  const [from, to] = schedule.daily.split("-") as [string, string];
  const minutes = (hm: string) => Number(hm.slice(0, 2)) * 60 + Number(hm.slice(3, 5));
  const openMs = minutes(from) * 60_000;
  let windowMs = minutes(to) * 60_000 - openMs;
  if (windowMs <= 0) windowMs += DAY_MS;
  const local = nowMs + utcOffsetMs;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
  let startLocal = dayStart + openMs;
  if (startLocal > local) startLocal -= DAY_MS;
  const startMs = startLocal - utcOffsetMs;
  return { startMs, windowEndMs: startMs + windowMs, lengthMs: DAY_MS };
}

/** The tiers a guest is backed up to, each with the guest's overrides applied. */
export function guestTiers(policy: BackupPolicy, vmid: number): [string, BackupTier][] {
  const g = policy.guests?.[String(vmid)];
  if (g?.exclude === true) return [];
  const out: [string, BackupTier][] = [];
  for (const [storage, host] of Object.entries(policy.tiers)) {
    const o = g?.tiers?.[storage];
    if (o?.exclude === true) continue;
    const tier: BackupTier = { ...host };
    if (o !== undefined) {
      for (const [k, v] of Object.entries(o)) {
        if (k !== "exclude" && v !== undefined) (tier as Record<string, unknown>)[k] = v;
      }
    }
    out.push([storage, tier]);
  }
  return out;
}

/**
 * What is due: a guest with no good backup on a tier since the start of the tier's current
 * period. Its start is spread over the window by a stable hash; a period whose window passed
 * before this scheduler started (downtime) is caught up once, spread by `catchupJitterMs` after
 * the start. Missing several periods is still one backup: only the current one counts.
 */
export function planDueBackups(input: DueInput): DuePlan {
  const due: DueBackup[] = [];
  const skipped: DuePlan["skipped"] = [];
  for (const guest of input.guests) {
    const tiers = guestTiers(input.policy, guest.vmid);
    if (tiers.length === 0 && input.policy.guests?.[String(guest.vmid)]?.exclude === true) {
      for (const storage of Object.keys(input.policy.tiers)) {
        skipped.push({
          vmid: guest.vmid,
          storage,
          reason: "excluded",
          detail: "excluded by the policy",
        });
      }
      continue;
    }
    for (const [storage, tier] of tiers) {
      const h = input.history.get(historyKey(guest.vmid, storage)) ?? {};
      const period = currentPeriod(tier.schedule, input.nowMs, input.utcOffsetMs);
      if (h.lastGoodAt !== undefined && h.lastGoodAt >= period.startMs) continue;
      const skip = (reason: SkipReason, detail: string) =>
        skipped.push({ vmid: guest.vmid, storage, reason, detail });
      if (
        h.lastGoodAt !== undefined &&
        h.unchangedAt !== undefined &&
        h.unchangedAt >= period.startMs &&
        guest.status === "stopped"
      ) {
        skip(
          "stopped_unchanged",
          `stopped, config and disks unchanged since its last good backup (${new Date(h.lastGoodAt).toISOString()})`,
        );
        continue;
      }
      if (h.inFlight === true) {
        skip("in_flight", "a backup to this tier is already running");
        continue;
      }
      if (guest.lock !== undefined) {
        skip("locked", `the guest is locked (${guest.lock})`);
        continue;
      }
      if (guest.busy === true) {
        skip("busy", "another operation on the guest is queued or running");
        continue;
      }
      const key = `${input.seed}/${guest.vmid}/${storage}/${period.startMs}`;
      const slot = period.startMs + spread(key, period.windowEndMs - period.startMs);
      let notBeforeMs = slot;
      let reason: DueBackup["reason"] = "scheduled";
      if (slot < input.startedAtMs) {
        notBeforeMs = input.startedAtMs + spread(key, input.catchupJitterMs + 1);
        reason = "catch_up";
      }
      const failedThisPeriod = h.lastFailedAt !== undefined && h.lastFailedAt >= period.startMs;
      if (failedThisPeriod) {
        notBeforeMs = Math.max(notBeforeMs, (h.lastFailedAt as number) + input.retryAfterMs);
        reason = "retry";
      }
      due.push({
        vmid: guest.vmid,
        storage,
        tier,
        periodStartMs: period.startMs,
        notBeforeMs,
        reason,
      });
    }
  }
  due.sort(
    (a, b) => a.notBeforeMs - b.notBeforeMs || a.vmid - b.vmid || (a.storage < b.storage ? -1 : 1),
  );
  const free = Math.max(0, input.concurrency - input.running);
  const start: DueBackup[] = [];
  const waiting: DueBackup[] = [];
  const startedGuests = new Set<number>();
  for (const d of due) {
    // One backup per guest at a time: a guest's second tier waits for its first.
    if (d.notBeforeMs <= input.nowMs && start.length < free && !startedGuests.has(d.vmid)) {
      start.push(d);
      startedGuests.add(d.vmid);
    } else waiting.push(d);
  }
  return { start, waiting, skipped };
}
