import { expect, test } from "bun:test";
import { historyBackupFreshness } from "../../src/daemon/health-backup-freshness.ts";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";

const H = 3_600_000;
const NOW = Date.parse("2026-06-01T12:00:00Z");
const policy = {
  tiers: {
    nas1: { schedule: { every_hours: 6 }, retention: { keep_last: 3 } },
    pbs1: { schedule: { every_hours: 6 }, retention: { keep_last: 3 } },
  },
} as unknown as BackupPolicy;

function store(p: BackupPolicy | undefined, summaries: unknown[]) {
  return {
    backupPolicies: { inForce: () => (p === undefined ? undefined : { policy: p }) },
    backupHistory: { summaries: () => summaries },
  } as never;
}

test("per guest, the stalest tier's newest good backup; a tier never backed up makes it null", () => {
  const s = store(policy, [
    { vmid: 101, storage: "nas1", lastGoodAt: NOW - 30 * H, goodCount: 4, goodBytes: 1 },
    { vmid: 101, storage: "pbs1", lastGoodAt: NOW - 2 * H, goodCount: 9, goodBytes: 1 },
    { vmid: 102, storage: "nas1", lastGoodAt: NOW - 1 * H, goodCount: 1, goodBytes: 1 },
  ]);
  const out = historyBackupFreshness(
    s,
    () => [102, 101],
    () => NOW,
  );
  expect(out).toEqual([
    { vmid: 101, lastSuccessAt: NOW - 30 * H },
    { vmid: 102, lastSuccessAt: null },
  ]);
});

test("no policy in force: no guest is measured", () => {
  expect(
    historyBackupFreshness(
      store(undefined, []),
      () => [101],
      () => NOW,
    ),
  ).toEqual([]);
});
