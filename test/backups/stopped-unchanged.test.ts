/**
 * A stopped guest unchanged since its last good backup is not backed up again
 * (docs/reconcile.md#stopped-and-unchanged-guests), against the simulator through the engine:
 * the backup records the config digest, the next period is skipped with the reason, and a
 * start or a config change since makes it due again.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { guestSince } from "../../src/daemon/backup-loop.ts";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import type { ScheduleGuest } from "../../src/reconcile/backup-due.ts";
import { DEFAULT_BACKUP_FLOOR } from "../../src/reconcile/backup-floor.ts";
import { BackupScheduler } from "../../src/reconcile/backup-scheduler.ts";
import { Rig } from "../reconcile/support.ts";
import { JumpClock } from "../support/jump-clock.ts";

const DAY = 86_400_000;
const POLICY: BackupPolicy = {
  tiers: { local: { schedule: { every_hours: 24 }, retention: { keep_last: 30 } } },
  guests: { "101": { exclude: true }, "103": { exclude: true } },
};

let rig: Rig;
let clock: JumpClock;
let reads = 0;

beforeEach(async () => {
  clock = new JumpClock();
  rig = await Rig.start({}, { clock });
  reads = 0;
});
afterEach(async () => {
  await rig?.close();
});

function scheduler(): BackupScheduler {
  return new BackupScheduler({
    store: rig.store,
    desired: () => ({ guests: new Map(), backupPolicy: POLICY }),
    engine: rig.engine,
    listGuests: async () =>
      (await rig.client.listLXC())
        .filter((g) => g.vmid < 9000)
        .map(
          (g): ScheduleGuest => ({
            vmid: g.vmid,
            status: g.status === "running" ? "running" : "stopped",
            ...(g.lock !== undefined ? { lock: g.lock } : {}),
          }),
        ),
    pruneDryRun: (storage, p) => rig.client.pruneDryRun(storage, p),
    guestSince: (vmid, since) => {
      reads++;
      return guestSince(rig.client, vmid, since);
    },
    clock,
    config: {
      floor: DEFAULT_BACKUP_FLOOR,
      catchupJitterMs: 0,
      concurrency: 1,
      retryAfterMs: 3_600_000,
      utcOffsetMs: 0,
      guestListMaxAgeMs: 0,
      seed: "test-host",
    },
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (rig.store.journal.inFlight().length === 0) return;
    await Bun.sleep(25);
  }
  throw new Error("operations did not settle");
}

const backups102 = () =>
  rig.store.backupHistory.list({ vmid: 102 }).filter((h) => h.result === "ok");

test("stopped and unchanged: skipped with the reason, counted as covered; a start or a config change makes it due", async () => {
  const s = scheduler();
  const first = await s.tick();
  expect(first.started.map((x) => x.vmid)).toEqual([102]);
  await settle();
  await s.tick();
  const [taken] = backups102();
  expect(taken?.configDigest).toMatch(/^[0-9a-f]{40}$/);
  expect(taken?.configDigest).toBe((await rig.client.guestConfig(102)).digest);

  // The next period: unchanged, so skipped, with the reason, and no backup.
  clock.jump(DAY);
  const skipped = await s.tick();
  expect(skipped.started).toEqual([]);
  expect(skipped.plan?.skipped.filter((x) => x.reason !== "excluded")).toEqual([
    expect.objectContaining({ vmid: 102, storage: "local", reason: "stopped_unchanged" }),
  ]);
  expect(reads).toBe(1);
  expect(rig.store.backupHistory.newestGood(102, "local")?.unchangedAt).toBe(
    rig.store.backupHistory.summaries()[0]?.unchangedAt as number,
  );
  // Later ticks of the same period skip it from the store alone.
  const again = await s.tick();
  expect(again.plan?.skipped.map((x) => x.reason)).toContain("stopped_unchanged");
  expect(reads).toBe(1);
  expect(backups102().length).toBe(1);

  // Started and stopped again by hand: its disks may have changed, so the next period backs it up.
  await rig.client.waitTask(await rig.client.start(102), { deadlineMs: 10_000 });
  await rig.client.waitTask(await rig.client.stop(102), { deadlineMs: 10_000 });
  // Archive names have one-second resolution (the simulator runs in real time).
  await Bun.sleep(1100);
  clock.jump(DAY);
  const ran = await s.tick();
  expect(ran.started.map((x) => x.vmid)).toEqual([102]);
  await settle();
  await s.tick();
  expect(backups102().length).toBe(2);

  // A config change (a stopped guest's memory) makes it due too.
  clock.jump(DAY);
  await s.tick();
  expect(backups102().length).toBe(2);
  await rig.client.setConfig(102, { memoryMiB: 2048 });
  await Bun.sleep(1100);
  clock.jump(DAY);
  const changed = await s.tick();
  expect(changed.started.map((x) => x.vmid)).toEqual([102]);
  await settle();
});
