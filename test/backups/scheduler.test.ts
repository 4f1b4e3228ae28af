/**
 * The backup scheduler against the simulator through the real engine (docs/reconcile.md#backup-schedule):
 * one catch-up per guest per tier, nothing twice across a restart, a crash mid-backup settled by
 * recovery and not repeated, a steady tick with no Proxmox call, a policy below the floor held.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import type { ScheduleGuest } from "../../src/reconcile/backup-due.ts";
import { type BackupFloor, DEFAULT_BACKUP_FLOOR } from "../../src/reconcile/backup-floor.ts";
import { BackupScheduler } from "../../src/reconcile/backup-scheduler.ts";
import { Rig } from "../reconcile/support.ts";
import { JumpClock } from "../support/jump-clock.ts";

const POLICY: BackupPolicy = {
  tiers: { local: { schedule: { every_hours: 24 }, retention: { keep_last: 3, keep_daily: 7 } } },
  guests: { "102": { exclude: true } },
};

let rig: Rig;
let clock: JumpClock;
let listCalls = 0;

beforeEach(async () => {
  clock = new JumpClock();
  rig = await Rig.start({}, { clock });
  listCalls = 0;
});
afterEach(async () => {
  await rig?.close();
});

function scheduler(
  policy: BackupPolicy | null = POLICY,
  floor: BackupFloor = DEFAULT_BACKUP_FLOOR,
): BackupScheduler {
  return new BackupScheduler({
    store: rig.store,
    desired: () => (policy ? { guests: new Map(), backupPolicy: policy } : undefined),
    engine: rig.engine,
    listGuests: async () => {
      listCalls++;
      return (await rig.client.listLXC())
        .filter((g) => g.vmid < 9000)
        .map(
          (g): ScheduleGuest => ({
            vmid: g.vmid,
            status: g.status === "running" ? "running" : "stopped",
            ...(g.lock !== undefined ? { lock: g.lock } : {}),
          }),
        );
    },
    pruneDryRun: (storage, p) => rig.client.pruneDryRun(storage, p),
    backupListing: (storage) => rig.client.storageContent(storage, { content: "backup" }),
    clock,
    config: {
      floor,
      catchupJitterMs: 0,
      concurrency: 1,
      retryAfterMs: 3_600_000,
      utcOffsetMs: 0,
      guestListMaxAgeMs: 3_600_000,
      seed: "test-host",
    },
  });
}

function archives(vmid: number): string[] {
  const local = rig.sim.state.storage("local");
  return [...(local?.volumes.values() ?? [])]
    .filter((v) => v.content === "backup" && v.vmid === vmid)
    .map((v) => v.volid);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (rig.store.journal.inFlight().length === 0) return;
    await Bun.sleep(25);
  }
  throw new Error("backups did not settle");
}

async function runUntilQuiet(s: BackupScheduler): Promise<string[]> {
  const started: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await s.tick();
    started.push(...r.started.map((x) => `${x.vmid}/${x.storage}`));
    await settle();
    if (r.started.length === 0 && (r.plan?.waiting.length ?? 0) === 0) break;
  }
  return started;
}

describe("the backup scheduler through the engine", () => {
  test("one catch-up per guest, one at a time, recorded in the history; nothing twice after a restart", async () => {
    const before101 = archives(101).length;
    const first = await runUntilQuiet(scheduler());
    expect(first.sort()).toEqual(["101/local", "103/local"]);
    expect(archives(101).length).toBe(before101 + 1);
    const hist = rig.store.backupHistory.list();
    expect(
      hist
        .filter((h) => h.result === "ok")
        .map((h) => h.vmid)
        .sort(),
    ).toEqual([101, 103]);
    expect(hist.every((h) => h.volid?.startsWith("local:backup/vzdump-lxc-"))).toBe(true);
    // The run's own size, known before the next listing.
    expect(hist.every((h) => (h.size ?? 0) > 0)).toBe(true);
    expect(
      rig.store.journal
        .recent(50)
        .filter((e) => e.op === "guest.backup")
        .map((e) => e.origin),
    ).toEqual(["schedule", "schedule"]);
    expect(
      rig.store.audit
        .list({ limit: 1000 })
        .some((r) => r.action === "backup.policy" && r.outcome === "adopted"),
    ).toBe(true);

    await rig.restart();
    const again = scheduler();
    const calls = listCalls;
    const r1 = await again.tick();
    expect(r1.started).toEqual([]);
    // The first tick of a new scheduler reads the guest list once; a steady tick reads nothing.
    expect(listCalls).toBe(calls + 1);
    const r2 = await again.tick();
    expect(r2.started).toEqual([]);
    expect(r2.proxmoxReads).toBe(0);
    expect(listCalls).toBe(calls + 1);
    expect(archives(101).length).toBe(before101 + 1);

    // The next period: each guest once more.
    clock.jump(24 * 3_600_000);
    const next = await runUntilQuiet(again);
    expect(next.sort()).toEqual(["101/local", "103/local"]);
  });

  test("a crash while a backup runs: recovery settles it and the scheduler does not repeat it", async () => {
    const before = archives(101).length + archives(103).length;
    const s = scheduler();
    const r = await s.tick();
    expect(r.started.length).toBe(1);
    // Wait for the UPID to be journaled, then stop as a crash would.
    for (let i = 0; i < 200; i++) {
      if (rig.store.journal.inFlight().some((e) => e.upid !== null)) break;
      await Bun.sleep(10);
    }
    await rig.restart();
    await rig.engine.resolve("recovery");
    const after = await runUntilQuiet(scheduler());
    expect(after.length).toBe(1);
    expect(after).not.toContain(`${r.started[0]?.vmid}/local`);
    expect(archives(101).length + archives(103).length).toBe(before + 2);
  });

  test("a crash between the vzdump POST and its UPID: recovery finds the task, nothing runs twice", async () => {
    const only101: BackupPolicy = {
      ...POLICY,
      guests: { "102": { exclude: true }, "103": { exclude: true } },
    };
    const before = archives(101).length;
    // What the engine leaves when it dies right after the POST: an intent without a UPID,
    // and PVE running the backup it was asked for.
    rig.store.journal.recordIntent({
      vmid: 101,
      op: "guest.backup",
      params: { storage: "local" },
      origin: "schedule",
    });
    await rig.client.vzdump({ vmid: 101, storage: "local", remove: false });
    await rig.restart();
    await rig.engine.resolve("recovery");
    await settle();
    const [entry] = rig.store.journal.forGuest(101);
    expect(entry?.phase).toBe("done");
    expect(entry?.resolution ?? "").toContain("found task");
    const started = await runUntilQuiet(scheduler(only101));
    expect(started).toEqual([]);
    expect(archives(101).length).toBe(before + 1);
    expect(rig.store.backupHistory.list({ vmid: 101 }).map((h) => h.result)).toEqual(["ok"]);
  });

  test("a policy below the floor is held, audited once, and nothing is scheduled by it", async () => {
    const low: BackupPolicy = {
      tiers: { local: { schedule: { every_hours: 24 }, retention: { keep_last: 1 } } },
    };
    const s = scheduler(low);
    expect((await s.tick()).started).toEqual([]);
    await s.tick();
    const held = rig.store.audit.list({ limit: 1000 }).filter((r) => r.action === "backup.policy");
    expect(held.map((r) => r.outcome)).toEqual(["held"]);
    expect(held[0]?.details).toContain("below the floor of 3");
    expect(rig.store.backupPolicies.inForce()).toBeUndefined();
    expect(listCalls).toBe(0);
  });

  test("retention after a backup: PVE's marks checked against the floor, one audit row, one prune", async () => {
    const local = rig.sim.state.storage("local");
    if (local === undefined) throw new Error("no local storage");
    const stamp = (ms: number) => {
      const d = new Date(ms);
      const p = (n: number) => String(n).padStart(2, "0");
      return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
    };
    const old: string[] = [];
    for (const days of [1, 2, 3, 10, 20, 30]) {
      const ms = Date.now() - days * 86_400_000;
      const volid = `local:backup/vzdump-lxc-101-${stamp(ms)}.tar.zst`;
      old.push(volid);
      local.volumes.set(volid, {
        volid,
        content: "backup",
        format: "tar.zst",
        size: 1000,
        ctime: Math.floor(ms / 1000),
        vmid: 101,
      });
    }
    const policy: BackupPolicy = {
      tiers: { local: { schedule: { every_hours: 24 }, retention: { keep_last: 3 } } },
      guests: { "102": { exclude: true }, "103": { exclude: true } },
    };
    const s = scheduler(policy);
    await s.tick();
    await settle();
    const r = await s.tick();
    expect(r.retention.length).toBe(1);
    const d = r.retention[0];
    // keep-last=3 marks the 3-day-old one for removal; the floor (younger than 7 days) keeps it,
    // so keep-last is raised to 4 and one prune removes exactly the three older ones.
    expect(d?.decision.method).toBe("prunebackups");
    expect([...(d?.decision.removed ?? [])].sort()).toEqual(old.slice(3).sort());
    await settle();
    for (let i = 0; i < 200 && archives(101).length !== 4; i++) await Bun.sleep(25);
    expect(archives(101).sort()).toEqual(
      [...old.slice(0, 3), ...archives(101).filter((v) => !old.includes(v))].sort(),
    );
    const rows = rig.store.audit
      .list({ limit: 1000 })
      .filter((a) => a.action === "backup.retention");
    expect(rows.map((a) => a.outcome)).toEqual(["prune"]);
    const details = JSON.parse(rows[0]?.details ?? "{}") as { retention: string; kept: unknown[] };
    expect(details.retention).toBe("keep-last=4");
    expect(details.kept.length).toBe(4);
    const prune = rig.store.journal.recent(20).find((e) => e.op === "guest.backup.prune");
    expect(prune?.phase).toBe("done");
    // The removed archives keep their history rows, `removed` with why; freshness skips them.
    await s.tick();
    const removed = rig.store.backupHistory
      .list({ vmid: 101, all: true })
      .filter((h) => h.result === "removed");
    expect(removed.map((h) => h.volid).sort()).toEqual(old.slice(3).sort());
    expect(removed[0]?.reason).toBe(
      "pruned by retention (keep-last=4), the agent's retention step",
    );
    expect(rig.store.backupHistory.list({ vmid: 101 }).some((h) => h.result === "removed")).toBe(
      false,
    );
    expect(rig.store.backupHistory.summaries().find((x) => x.vmid === 101)?.goodCount).toBe(4);
    // The scheduler's own origin: its prune is benign as the agent's retention step, audited so.
    expect(prune?.origin).toBe("schedule");
    expect(
      rig.store.audit
        .list({ limit: 1000 })
        .filter((a) => a.target === "guest:101" && a.actor === "schedule")
        .map((a) => a.action),
    ).toContain("guest.backup.prune");
  });

  test("protected_monthly: the month's first backup is protected by the schedule, once a month", async () => {
    const policy: BackupPolicy = {
      tiers: {
        local: {
          schedule: { every_hours: 24 },
          retention: { keep_last: 3 },
          protected_monthly: true,
        },
      },
      guests: { "102": { exclude: true }, "103": { exclude: true } },
    };
    const s = scheduler(policy);
    await s.tick();
    await settle();
    const r = await s.tick();
    expect(r.retention.length).toBe(1);
    expect(r.retention[0]?.protectId).toBeDefined();
    await settle();
    const protectedNow = () =>
      [...(rig.sim.state.storage("local")?.volumes.values() ?? [])]
        .filter((v) => v.vmid === 101 && v.protected === true)
        .map((v) => v.volid);
    const mine = rig.store.backupHistory.list({ vmid: 101 }).find((h) => h.result === "ok");
    expect(protectedNow()).toEqual([mine?.volid as string]);
    const protect = rig.store.journal.recent(20).find((e) => e.op === "guest.backup.protect");
    expect([protect?.phase, protect?.origin]).toEqual(["done", "schedule"]);
    const audit = rig.store.audit.list({ limit: 1000 });
    expect(
      audit.some(
        (a) =>
          a.action === "guest.backup.protect" && a.actor === "schedule" && a.outcome !== "failed",
      ),
    ).toBe(true);
    await s.tick();
    expect(
      rig.store.backupHistory.list({ vmid: 101 }).find((h) => h.volid === mine?.volid)?.protected,
    ).toBe(true);

    // Another backup this month (a hub job): its retention step protects nothing more.
    await Bun.sleep(1100);
    const st = await rig.engine.submit({
      op: "guest.backup",
      vmid: 101,
      params: { storage: "local" },
      origin: "job",
      jobId: "job-extra",
      priority: "background",
    });
    expect(["queued", "running"]).toContain(st.state);
    await settle();
    const again = await s.tick();
    expect(again.retention.length).toBe(1);
    expect(again.retention[0]?.protectId).toBeUndefined();
    await settle();
    expect(protectedNow()).toEqual([mine?.volid as string]);
  });

  test("a hub job asking to prune is held for a signature", async () => {
    const status = await rig.engine.submit({
      op: "guest.backup.prune",
      vmid: 101,
      params: {
        storage: "local",
        pruneBackups: "keep-last=1",
        remove: ["local:backup/vzdump-lxc-101-2026_01_15-10_00_00.tar.zst"],
      },
      origin: "job",
      jobId: "job-1",
      priority: "background",
    });
    expect(status.state).toBe("pending_signature");
  });

  test("a backup made by hand in this period is seen in the listing: recorded, and no second one", async () => {
    const local = rig.sim.state.storage("local");
    if (local === undefined) throw new Error("no local storage");
    const volid = "local:backup/vzdump-lxc-103-2026_01_01-00_00_00.tar.zst";
    local.volumes.set(volid, {
      volid,
      content: "backup",
      format: "tar.zst",
      size: 4242,
      ctime: Math.floor(clock.now() / 1000) - 60,
      vmid: 103,
    });
    const started = await runUntilQuiet(scheduler());
    expect(started).toEqual(["101/local"]);
    const seen = rig.store.backupHistory.list({ vmid: 103 });
    expect(seen.map((h) => [h.volid, h.result, h.size])).toEqual([[volid, "seen", 4242]]);
  });

  test("an archive deleted by hand leaves the listing: its row becomes removed, with why", async () => {
    const local = rig.sim.state.storage("local");
    if (local === undefined) throw new Error("no local storage");
    const volid = "local:backup/vzdump-lxc-103-2026_01_01-00_00_00.tar.zst";
    local.volumes.set(volid, {
      volid,
      content: "backup",
      format: "tar.zst",
      size: 4242,
      ctime: Math.floor(clock.now() / 1000) - 60,
      vmid: 103,
    });
    const s = scheduler();
    await s.tick();
    expect(rig.store.backupHistory.list({ vmid: 103 }).map((h) => h.result)).toEqual(["seen"]);
    local.volumes.delete(volid);
    await settle();
    clock.jump(2 * 3_600_000);
    await s.tick();
    const rows = rig.store.backupHistory.list({ vmid: 103, all: true });
    expect(rows.find((h) => h.volid === volid)).toMatchObject({
      result: "removed",
      reason: "no longer in the storage's backup listing",
    });
  });

  test("without a policy nothing is scheduled, but a backup asked by a hub job enters the history", async () => {
    const st = await rig.engine.submit({
      op: "guest.backup",
      vmid: 101,
      params: { storage: "local" },
      origin: "job",
      jobId: "job-b1",
      priority: "background",
    });
    expect(["queued", "running"]).toContain(st.state);
    await settle();
    const r = await scheduler(null).tick();
    expect(r.started).toEqual([]);
    expect(listCalls).toBe(0);
    const h = rig.store.backupHistory.list({ vmid: 101 });
    expect(h.map((x) => x.result)).toEqual(["ok"]);
    expect(h[0]?.volid).toStartWith("local:backup/vzdump-lxc-101-");
  });
});
