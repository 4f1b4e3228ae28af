/**
 * Contention (docs/reconcile.md#backup-schedule): the scheduler's backups, a reconcile pass and
 * local-API requests on the same guests at once, against the simulator through the real engine.
 * One task per guest at a time; the local API answers while backups run; a guest locked by a
 * backup someone else runs is skipped by the schedule and the pass, not failed; a scheduled
 * backup that meets such a lock is not recorded as a failed backup, while a real failure is,
 * with vzdump's reason and the log's tail.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { createLocalApiApp, type LocalApiApp } from "../../src/localapi/app.ts";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import type { ScheduleGuest } from "../../src/reconcile/backup-due.ts";
import { DEFAULT_BACKUP_FLOOR } from "../../src/reconcile/backup-floor.ts";
import { BackupScheduler } from "../../src/reconcile/backup-scheduler.ts";
import { systemClock } from "../../src/util/clock.ts";
import { bearer, jsonBody } from "../localapi/fixture.ts";
import { Rig } from "../reconcile/support.ts";
import { JumpClock } from "../support/jump-clock.ts";

const POLICY: BackupPolicy = {
  tiers: { local: { schedule: { every_hours: 24 }, retention: { keep_last: 5 } } },
  guests: { "102": { exclude: true } },
};

let rig: Rig;
let clock: JumpClock;
let app: LocalApiApp;
let token101: string;
let token103: string;
/** A lock to put on a guest right after the scheduler read the guest list, as a hand backup would. */
let lockAfterList: number | undefined;

beforeEach(async () => {
  clock = new JumpClock();
  rig = await Rig.start({ taskMs: { vzdump: 1200, default: 80 } }, { clock, concurrency: 4 });
  token101 = rig.store.guestTokens.mint(101).token;
  token103 = rig.store.guestTokens.mint(103).token;
  app = createLocalApiApp({
    tokens: rig.store.guestTokens,
    submitter: rig.engine,
    proxmox: rig.client,
    quotas: { quotaFor: () => undefined },
    backups: { backupStorageFor: () => "local" },
    audit: rig.store.audit,
    clock: systemClock,
    limits: { rateLimit: { perMinute: 6000, burst: 1000 }, readCacheMs: 0 },
    version: "test",
  });
  lockAfterList = undefined;
});
afterEach(async () => {
  await rig?.close();
});

function scheduler(): BackupScheduler {
  return new BackupScheduler({
    store: rig.store,
    desired: () => ({ guests: new Map(), backupPolicy: POLICY }),
    engine: rig.engine,
    listGuests: async () => {
      const list = (await rig.client.listLXC())
        .filter((g) => g.vmid < 9000)
        .map(
          (g): ScheduleGuest => ({
            vmid: g.vmid,
            status: g.status === "running" ? "running" : "stopped",
            ...(g.lock !== undefined ? { lock: g.lock } : {}),
          }),
        );
      if (lockAfterList !== undefined) {
        const g = rig.sim.state.guest(lockAfterList);
        if (g !== undefined) g.config.lock = "backup";
      }
      return list;
    },
    pruneDryRun: (storage, p) => rig.client.pruneDryRun(storage, p),
    taskLogTail: (upid) => rig.client.taskLogTail(upid, 30),
    clock,
    config: {
      floor: DEFAULT_BACKUP_FLOOR,
      catchupJitterMs: 0,
      concurrency: 2,
      retryAfterMs: 3_600_000,
      utcOffsetMs: 0,
      guestListMaxAgeMs: 0,
      seed: "test-host",
    },
  });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (rig.store.journal.inFlight().length === 0) return;
    await Bun.sleep(25);
  }
  throw new Error("operations did not settle");
}

/** Samples the simulator: the agent's tasks running at once on one guest, at any sample. */
function watchOverlap(): { stop(): string[] } {
  const overlaps: string[] = [];
  const agent = rig.client.tokenId;
  const timer = setInterval(() => {
    const now = Date.now();
    const running = new Map<string, string[]>();
    for (const t of rig.sim.state.tasks()) {
      if (t.parts.user !== agent || t.endsAt <= now || t.parts.id === "") continue;
      running.set(t.parts.id, [...(running.get(t.parts.id) ?? []), t.parts.type]);
    }
    for (const [id, types] of running) if (types.length > 1) overlaps.push(`${id}: ${types}`);
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return overlaps;
    },
  };
}

test("backups, a reconcile pass and local-API snapshots at once: one task per guest, the API answers", async () => {
  rig.setDesired({ version: 1, guests: { "101": { cores: 4 }, "103": { cores: 3 } } });
  const watch = watchOverlap();
  const tick = await scheduler().tick();
  expect(tick.started.map((s) => s.vmid).sort()).toEqual([101, 103]);

  // While both backups run: a reconcile pass, and each guest asks for a snapshot and reads.
  const passRun = rig.reconciler.runPass();
  const [snap101, snap103, self101] = await Promise.all([
    app.request("/v1/self/snapshots", jsonBody("POST", { name: "pre" }, token101)),
    app.request("/v1/self/snapshots", jsonBody("POST", { name: "pre" }, token103)),
    app.request("/v1/self", bearer(token101)),
  ]);
  // The API answered while both backups still ran: it does not wait behind them.
  const running = rig.store.journal.inFlight().filter((e) => e.op === "guest.backup");
  expect(running.map((e) => e.vmid).sort()).toEqual([101, 103]);
  expect(snap101.status).toBe(202);
  expect(snap103.status).toBe(202);
  expect(self101.status).toBe(200);
  const pass = await passRun;
  // The pass planned nothing for guests with a backup in flight; the next one will.
  expect(pass.planned.filter((a) => a.vmid === 101 || a.vmid === 103)).toEqual([]);

  await settle();
  const after = await rig.reconciler.runPass();
  expect(after.planned.map((a) => `${a.op} ${a.vmid}`).sort()).toEqual([
    "guest.config 101",
    "guest.config 103",
  ]);
  await settle();
  expect(watch.stop()).toEqual([]);

  const entries = rig.store.journal.recent(50);
  expect(entries.every((e) => e.phase === "done")).toBe(true);
  expect(entries.map((e) => `${e.op} ${e.vmid} ${e.origin}`).sort()).toEqual([
    "guest.backup 101 schedule",
    "guest.backup 103 schedule",
    "guest.config 101 reconcile",
    "guest.config 103 reconcile",
    "guest.snapshot 101 localapi",
    "guest.snapshot 103 localapi",
  ]);
  expect(rig.sim.state.guest(101)?.snapshots.has("ctl-pre")).toBe(true);
  expect(rig.sim.state.guest(101)?.config.cores).toBe(4);
});

test("a guest locked by someone else's backup: skipped by the schedule and the pass, never a failed backup", async () => {
  rig.setDesired({ version: 1, guests: { "103": { cores: 3 } } });
  const lock = (on: boolean) => {
    const g = rig.sim.state.guest(103);
    if (g === undefined) throw new Error("no guest 103");
    if (on) g.config.lock = "backup";
    else delete g.config.lock;
  };
  lock(true);
  const s = scheduler();
  const first = await s.tick();
  expect(first.started.map((x) => x.vmid)).toEqual([101]);
  expect(first.plan?.skipped).toContainEqual(
    expect.objectContaining({
      vmid: 103,
      reason: "locked",
      detail: "the guest is locked (backup)",
    }),
  );
  const pass = await rig.reconciler.runPass();
  expect(pass.planned.filter((a) => a.vmid === 103)).toEqual([]);
  await settle();

  // The lock appears between the guest list and the backup (a hand backup started then): PVE
  // refuses in the task with `CT is locked (backup)`. That is not a failed backup of the guest.
  lock(false);
  lockAfterList = 103;
  clock.jump(24 * 3_600_000);
  await Bun.sleep(1100);
  const second = await s.tick();
  expect(second.started.map((x) => x.vmid).sort()).toEqual([101, 103]);
  await settle();
  const refused = rig.store.journal
    .recent(20)
    .find((e) => e.op === "guest.backup" && e.vmid === 103);
  expect(refused?.phase).toBe("failed");
  const log = await rig.client.taskLogTail(refused?.upid as string, 30);
  expect(log).toContain("ERROR: Backup of VM 103 failed - CT is locked (backup)");
  lockAfterList = undefined;
  const third = await s.tick();
  expect(rig.store.backupHistory.list({ vmid: 103, all: true }).map((h) => h.result)).toEqual([]);
  expect(rig.store.backupHistory.summaries().find((x) => x.vmid === 103)).toBeUndefined();
  // Still locked: skipped again with the reason, not retried into a failure.
  expect(third.plan?.skipped).toContainEqual(
    expect.objectContaining({ vmid: 103, reason: "locked" }),
  );
  // The lock goes: the next tick backs it up.
  lock(false);
  // The simulator's guest list is cached per second; an edit in place shows from the next.
  await Bun.sleep(1100);
  const fourth = await s.tick();
  expect(fourth.started.map((x) => x.vmid)).toEqual([103]);
  await settle();
  await s.tick();
  expect(rig.store.backupHistory.list({ vmid: 103 }).map((h) => h.result)).toEqual(["ok"]);
});

test("a real failure is recorded with vzdump's reason and the log's tail, and retried only after the back-off", async () => {
  const local = rig.sim.state.storage("local");
  if (local === undefined) throw new Error("no local storage");
  local.total = [...local.volumes.values()].reduce((n, v) => n + v.size, local.baseUsed) + 1000;
  const s = scheduler();
  await s.tick();
  await settle();
  const next = await s.tick();
  const failed = rig.store.backupHistory.list({ vmid: 101 });
  expect(failed.map((h) => h.result)).toEqual(["failed"]);
  expect(failed[0]?.reason).toStartWith(
    "No space left on device: command 'tar cpf - … | zstd' failed: exit code 70",
  );
  expect(failed[0]?.logTail).toContain("ERROR: Backup of VM 101 failed");
  expect(next.started.filter((x) => x.vmid === 101)).toEqual([]);
  expect(
    rig.store.backupHistory.summaries().find((x) => x.vmid === 101)?.lastFailureReason,
  ).toStartWith("No space left on device");
});
