import type { BackupPolicy, BackupRetention } from "../ops/params/backup-policy.ts";

/**
 * The agent's own floor under any backup policy (docs/reconcile.md#backup-retention-floor): a
 * compromised hub must not be able to wipe a guest's history by policy. Pure functions; the
 * numbers come from the `backup` config section.
 */
export interface BackupFloor {
  /** Never prune the newest N backups of a guest on a tier. */
  keepNewest: number;
  /** Never prune a backup younger than this, in milliseconds. */
  minAgeMs: number;
}

export const DEFAULT_BACKUP_FLOOR: BackupFloor = { keepNewest: 3, minAgeMs: 7 * 86_400_000 };

/** One entry of PVE's prune dry run (docs/proxmox-behaviour.md#backup-retention-marks). */
export interface PruneMarkEntry {
  volid: string;
  /** Epoch seconds, as PVE reports it. */
  ctime: number;
  mark: "keep" | "remove" | "protected" | "renamed";
}

export type PruneKeepReason = "policy" | "protected" | "renamed" | "floor_newest" | "floor_age";

/** What the retention step does with one guest's backups on one tier: one audit row. */
export interface PruneDecision {
  kept: { volid: string; reason: PruneKeepReason }[];
  removed: string[];
  /**
   * `prunebackups` when PVE's marks already respect the floor (one DELETE prunebackups for the
   * vmid removes exactly `removed`); `per_volume` when the floor holds back some of them (each
   * of `removed` is deleted on its own); `none` when nothing is to go.
   */
  method: "prunebackups" | "per_volume" | "none";
}

/**
 * Checks PVE's marks against the floor: a `remove` among the newest `keepNewest` backups, or
 * younger than `minAgeMs`, is kept with the floor as its reason.
 */
export function decidePrune(
  entries: readonly PruneMarkEntry[],
  floor: BackupFloor,
  nowMs: number,
): PruneDecision {
  const newestFirst = [...entries].sort(
    (a, b) => b.ctime - a.ctime || (a.volid < b.volid ? -1 : 1),
  );
  const newest = new Set(newestFirst.slice(0, floor.keepNewest).map((e) => e.volid));
  const kept: PruneDecision["kept"] = [];
  const removed: string[] = [];
  let heldBack = false;
  for (const e of newestFirst) {
    if (e.mark === "keep") kept.push({ volid: e.volid, reason: "policy" });
    else if (e.mark === "protected" || e.mark === "renamed") {
      kept.push({ volid: e.volid, reason: e.mark });
    } else if (newest.has(e.volid)) {
      kept.push({ volid: e.volid, reason: "floor_newest" });
      heldBack = true;
    } else if (nowMs - e.ctime * 1000 < floor.minAgeMs) {
      kept.push({ volid: e.volid, reason: "floor_age" });
      heldBack = true;
    } else removed.push(e.volid);
  }
  const method = removed.length === 0 ? "none" : heldBack ? "per_volume" : "prunebackups";
  return { kept, removed, method };
}

const KEEP_KEYS = ["keep_last", "keep_daily", "keep_weekly", "keep_monthly"] as const;

/** The most backups a retention can ever keep: the sum of its counts, as PVE's limit is. */
export function retentionCapacity(r: BackupRetention): number {
  return KEEP_KEYS.reduce((sum, k) => sum + (r[k] ?? 0), 0);
}

/** The retention each guest override gives a tier, with the host's for everyone else. */
function retentions(p: BackupPolicy): { where: string; tier: string; r: BackupRetention }[] {
  const out = Object.entries(p.tiers).map(([tier, t]) => ({ where: "host", tier, r: t.retention }));
  for (const [vmid, g] of Object.entries(p.guests ?? {})) {
    for (const [tier, o] of Object.entries(g.tiers ?? {})) {
      if (o.retention !== undefined) out.push({ where: `guest ${vmid}`, tier, r: o.retention });
    }
  }
  return out;
}

/** Why a policy is below the floor, one sentence per tier that is; empty when it is not. */
export function policyBelowFloor(p: BackupPolicy, floor: BackupFloor): string[] {
  return retentions(p)
    .filter((x) => retentionCapacity(x.r) < floor.keepNewest)
    .map(
      (x) =>
        `${x.where}, tier ${x.tier}: the retention keeps at most ${retentionCapacity(x.r)}, below the floor of ${floor.keepNewest}`,
    );
}

/**
 * Where `next` keeps less than `current`, one sentence each: any keep count lowered on a tier
 * both name, for the host or for a guest override. A new tier or a removed one lowers nothing
 * (a tier no longer named is neither backed up nor pruned).
 */
export function retentionLowered(current: BackupPolicy, next: BackupPolicy): string[] {
  const before = new Map(retentions(current).map((x) => [`${x.where}/${x.tier}`, x.r]));
  const out: string[] = [];
  const after = retentions(next);
  const nextKeys = new Set(after.map((x) => `${x.where}/${x.tier}`));
  // A guest override dropped: that guest now keeps what the new host tier keeps.
  for (const [key, r] of before) {
    const tier = key.slice(key.indexOf("/") + 1);
    const hostTier = next.tiers[tier];
    if (key.startsWith("guest ") && !nextKeys.has(key) && hostTier !== undefined) {
      after.push({ where: key.slice(0, key.indexOf("/")), tier, r: hostTier.retention });
      before.set(key, r);
    }
  }
  for (const x of after) {
    const old =
      before.get(`${x.where}/${x.tier}`) ??
      (x.where === "host" ? undefined : current.tiers[x.tier]?.retention);
    if (old === undefined) continue;
    for (const k of KEEP_KEYS) {
      if ((x.r[k] ?? 0) < (old[k] ?? 0)) {
        out.push(`${x.where}, tier ${x.tier}: ${k} lowered from ${old[k] ?? 0} to ${x.r[k] ?? 0}`);
      }
    }
  }
  return out;
}

/** What happens to a policy the desired state brings (docs/desired-state.md#backup-policy). */
export type PolicyAdoption =
  | { kind: "unchanged" }
  | { kind: "adopt" }
  | { kind: "held"; reasons: string[] };

/**
 * A desired policy is adopted unsigned when it is at or above the floor and lowers nothing
 * against the one in force; otherwise the one in force stays until a signed `backup.policy`
 * brings it. The first policy has nothing to lower, so only the floor applies.
 */
export function judgeDesiredPolicy(
  desired: BackupPolicy,
  inForce: BackupPolicy | undefined,
  floor: BackupFloor,
  same: (a: BackupPolicy, b: BackupPolicy) => boolean,
): PolicyAdoption {
  if (inForce !== undefined && same(desired, inForce)) return { kind: "unchanged" };
  const reasons = [
    ...policyBelowFloor(desired, floor),
    ...(inForce === undefined ? [] : retentionLowered(inForce, desired)),
  ];
  return reasons.length === 0 ? { kind: "adopt" } : { kind: "held", reasons };
}
