import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import {
  type BackupFloor,
  DEFAULT_BACKUP_FLOOR,
  decidePrune,
  judgeDesiredPolicy,
  type PruneMarkEntry,
  policyBelowFloor,
  retentionLowered,
} from "../../src/reconcile/backup-floor.ts";
import { samePolicy } from "../../src/store/backup-policies.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

const entry = fc.record({
  ageS: fc.integer({ min: 0, max: 400 * 86_400 }),
  mark: fc.constantFrom<PruneMarkEntry["mark"]>("keep", "remove", "protected", "renamed"),
});
const entries = fc.uniqueArray(entry, { maxLength: 40, selector: (e) => e.ageS }).map((list) =>
  list.map(
    (e, i): PruneMarkEntry => ({
      volid: `nas1:backup/vzdump-lxc-101-${String(i).padStart(4, "0")}.tar.zst`,
      ctime: Math.floor(NOW / 1000) - e.ageS,
      mark: e.mark,
    }),
  ),
);
const floor = fc.record({
  keepNewest: fc.integer({ min: 0, max: 10 }),
  minAgeMs: fc.integer({ min: 0, max: 30 }).map((d) => d * DAY),
});

describe("the retention floor against PVE's prune marks", () => {
  test("never removes one of the newest N, one younger than the minimum age, or one PVE keeps", () => {
    fc.assert(
      fc.property(entries, floor, (list, f: BackupFloor) => {
        const d = decidePrune(list, f, NOW);
        const newest = [...list].sort((a, b) => b.ctime - a.ctime).slice(0, f.keepNewest);
        for (const volid of d.removed) {
          const e = list.find((x) => x.volid === volid) as PruneMarkEntry;
          expect(e.mark).toBe("remove");
          expect(newest.some((n) => n.volid === volid)).toBe(false);
          expect(NOW - e.ctime * 1000).toBeGreaterThanOrEqual(f.minAgeMs);
        }
        // Every entry is decided exactly once.
        expect(d.kept.length + d.removed.length).toBe(list.length);
        expect(new Set([...d.kept.map((k) => k.volid), ...d.removed]).size).toBe(list.length);
      }),
      { numRuns: 300 },
    );
  });

  test("one DELETE prunebackups only when it removes exactly what the floor allows", () => {
    fc.assert(
      fc.property(entries, floor, (list, f) => {
        const d = decidePrune(list, f, NOW);
        const pveRemoves = list.filter((e) => e.mark === "remove").map((e) => e.volid);
        if (d.method === "prunebackups") expect([...d.removed].sort()).toEqual(pveRemoves.sort());
        if (d.method === "none") expect(d.removed).toEqual([]);
        if (d.method === "per_volume") {
          expect(d.removed.length).toBeGreaterThan(0);
          expect(d.removed.length).toBeLessThan(pveRemoves.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("the newest three are kept by the default floor even when PVE marks them all remove", () => {
    const list: PruneMarkEntry[] = [1, 2, 3, 10, 20].map((days, i) => ({
      volid: `nas1:backup/vzdump-lxc-101-${i}.tar.zst`,
      ctime: Math.floor((NOW - days * DAY) / 1000),
      mark: "remove",
    }));
    const d = decidePrune(list, DEFAULT_BACKUP_FLOOR, NOW);
    expect(d.kept.map((k) => k.reason)).toEqual(["floor_newest", "floor_newest", "floor_newest"]);
    expect(d.removed).toEqual(list.slice(3).map((e) => e.volid));
    expect(d.method).toBe("per_volume");
  });
});

const tier = (keep: Record<string, number>) => ({
  schedule: { daily: "01:00-05:00" },
  retention: keep,
});
const policy = (keep: Record<string, number>, guest?: Record<string, number>): BackupPolicy => ({
  tiers: { nas1: tier(keep) },
  ...(guest === undefined ? {} : { guests: { "101": { tiers: { nas1: { retention: guest } } } } }),
});

describe("which desired policies the agent adopts unsigned", () => {
  test("below the floor: held, with the tier named", () => {
    const p = policy({ keep_last: 1, keep_daily: 1 });
    expect(policyBelowFloor(p, DEFAULT_BACKUP_FLOOR)).toEqual([
      "host, tier nas1: the retention keeps at most 2, below the floor of 3",
    ]);
    expect(judgeDesiredPolicy(p, undefined, DEFAULT_BACKUP_FLOOR, samePolicy).kind).toBe("held");
  });

  test("a guest override below the floor is held too", () => {
    const p = policy({ keep_daily: 7 }, { keep_last: 1 });
    expect(judgeDesiredPolicy(p, undefined, DEFAULT_BACKUP_FLOOR, samePolicy)).toEqual({
      kind: "held",
      reasons: ["guest 101, tier nas1: the retention keeps at most 1, below the floor of 3"],
    });
  });

  test("lowering any keep count against the policy in force is held; raising is adopted", () => {
    const inForce = policy({ keep_daily: 7, keep_weekly: 4 });
    expect(retentionLowered(inForce, policy({ keep_daily: 6, keep_weekly: 4 }))).toEqual([
      "host, tier nas1: keep_daily lowered from 7 to 6",
    ]);
    expect(
      judgeDesiredPolicy(
        policy({ keep_daily: 8, keep_weekly: 4 }),
        inForce,
        DEFAULT_BACKUP_FLOOR,
        samePolicy,
      ),
    ).toEqual({ kind: "adopt" });
    expect(judgeDesiredPolicy(inForce, inForce, DEFAULT_BACKUP_FLOOR, samePolicy)).toEqual({
      kind: "unchanged",
    });
  });

  test("dropping a guest override that kept more is lowering for that guest", () => {
    const inForce = policy({ keep_daily: 7 }, { keep_daily: 30 });
    expect(retentionLowered(inForce, policy({ keep_daily: 7 }))).toEqual([
      "guest 101, tier nas1: keep_daily lowered from 30 to 7",
    ]);
  });

  test("any policy adopted unsigned keeps at least the floor and lowers nothing", () => {
    const keep = fc.record({
      keep_last: fc.integer({ min: 0, max: 6 }),
      keep_daily: fc.integer({ min: 0, max: 6 }),
      keep_weekly: fc.integer({ min: 0, max: 6 }),
    });
    fc.assert(
      fc.property(keep, keep, (a, b) => {
        const current = policy(a);
        const next = policy(b);
        const verdict = judgeDesiredPolicy(next, current, DEFAULT_BACKUP_FLOOR, samePolicy);
        if (verdict.kind === "adopt") {
          expect(b.keep_last + b.keep_daily + b.keep_weekly).toBeGreaterThanOrEqual(3);
          expect(b.keep_last >= a.keep_last && b.keep_daily >= a.keep_daily).toBe(true);
          expect(b.keep_weekly).toBeGreaterThanOrEqual(a.keep_weekly);
        }
      }),
      { numRuns: 300 },
    );
  });
});
