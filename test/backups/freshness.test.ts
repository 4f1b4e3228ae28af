import { expect, test } from "bun:test";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import { backupFreshness } from "../../src/reconcile/backup-freshness.ts";

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 5, 3, 12, 0, 0);
const POLICY: BackupPolicy = {
  tiers: {
    nas1: { schedule: { daily: "01:00-05:00" }, retention: { keep_daily: 7 } },
    pbs1: { schedule: { every_hours: 6 }, retention: { keep_daily: 14 } },
  },
  guests: { "102": { exclude: true } },
};

test("age, count, bytes, last failure, and overdue past twice the period", () => {
  const rows = backupFreshness(
    POLICY,
    [103, 101, 102],
    [
      { vmid: 101, storage: "nas1", lastGoodAt: NOW - 30 * HOUR, goodCount: 4, goodBytes: 4000 },
      { vmid: 101, storage: "pbs1", lastGoodAt: NOW - 13 * HOUR, goodCount: 9, goodBytes: 90 },
      {
        vmid: 103,
        storage: "nas1",
        lastGoodAt: NOW - 49 * HOUR,
        lastFailedAt: NOW - HOUR,
        lastFailureReason: "no space left on device",
        goodCount: 1,
        goodBytes: 10,
      },
    ],
    NOW,
  );
  expect(rows.map((r) => `${r.vmid}/${r.storage}:${r.overdue}`)).toEqual([
    "101/nas1:false",
    "101/pbs1:true",
    "103/nas1:true",
    "103/pbs1:true",
  ]);
  expect(rows[0]).toEqual({
    vmid: 101,
    storage: "nas1",
    last_good_at: new Date(NOW - 30 * HOUR).toISOString(),
    age_s: 30 * 3600,
    count: 4,
    bytes: 4000,
    last_failure: null,
    unchanged_at: null,
    overdue: false,
  });
  expect(rows[2]?.last_failure?.reason).toBe("no space left on device");
  expect(rows[3]).toMatchObject({ last_good_at: null, age_s: null, count: 0, overdue: true });
});

test("a stopped guest found unchanged since its last backup is not overdue, and says since when", () => {
  const rows = backupFreshness(
    POLICY_FOR_UNCHANGED,
    [105],
    [
      {
        vmid: 105,
        storage: "nas1",
        lastGoodAt: NOW - 10 * 24 * HOUR,
        unchangedAt: NOW - 2 * HOUR,
        goodCount: 1,
        goodBytes: 10,
      },
    ],
    NOW,
  );
  expect(rows).toEqual([
    {
      vmid: 105,
      storage: "nas1",
      last_good_at: new Date(NOW - 10 * 24 * HOUR).toISOString(),
      age_s: 10 * 24 * 3600,
      count: 1,
      bytes: 10,
      last_failure: null,
      unchanged_at: new Date(NOW - 2 * HOUR).toISOString(),
      overdue: false,
    },
  ]);
  // Found unchanged, but long ago: overdue again.
  const stale = backupFreshness(
    POLICY_FOR_UNCHANGED,
    [105],
    [
      {
        vmid: 105,
        storage: "nas1",
        lastGoodAt: NOW - 10 * 24 * HOUR,
        unchangedAt: NOW - 49 * HOUR,
        goodCount: 1,
        goodBytes: 10,
      },
    ],
    NOW,
  );
  expect(stale[0]?.overdue).toBe(true);
  // A confirmation older than the newest backup (that guest changed since) is not shown.
  const older = backupFreshness(
    POLICY_FOR_UNCHANGED,
    [105],
    [
      {
        vmid: 105,
        storage: "nas1",
        lastGoodAt: NOW - HOUR,
        unchangedAt: NOW - 3 * HOUR,
        goodCount: 2,
        goodBytes: 10,
      },
    ],
    NOW,
  );
  expect(older[0]).toMatchObject({ unchanged_at: null, overdue: false });
});

const POLICY_FOR_UNCHANGED: BackupPolicy = {
  tiers: { nas1: { schedule: { daily: "01:00-05:00" }, retention: { keep_last: 3 } } },
};
