/**
 * The backup scheduler's steady tick: 1,000 guests × 3 tiers, every one backed up in its
 * current period, so nothing is due. Measures the pure due-time planner alone, and a whole
 * tick from the state database (history aggregate + journal scan + plan), and counts the
 * Proxmox calls a steady tick makes (the target: none, and under 10 ms per decision).
 * Run: bun bench/backup-schedule.ts [--guests 1000] [--rounds 50] [--dir DIR]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BackupPolicy } from "../src/ops/params/backup-policy.ts";
import {
  historyKey,
  planDueBackups,
  type ScheduleGuest,
  type TierHistory,
} from "../src/reconcile/backup-due.ts";
import { DEFAULT_BACKUP_FLOOR } from "../src/reconcile/backup-floor.ts";
import { BackupScheduler } from "../src/reconcile/backup-scheduler.ts";
import { openStore } from "../src/store/open.ts";
import type { Clock } from "../src/util/clock.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { guests: { type: "string" }, rounds: { type: "string" }, dir: { type: "string" } },
});
const GUESTS = Number(values.guests ?? 1000);
const ROUNDS = Number(values.rounds ?? 50);
const NOW = Date.UTC(2026, 5, 1, 13, 0, 0);
const clock: Clock = { now: () => NOW, sleep: async () => {} };

const policy: BackupPolicy = {
  tiers: {
    usb1: { schedule: { daily: "01:00-05:00" }, retention: { keep_last: 3, keep_daily: 7 } },
    nas1: { schedule: { daily: "02:00-04:00" }, retention: { keep_daily: 14 } },
    pbs1: { schedule: { every_hours: 6 }, retention: { keep_daily: 30 } },
  },
};
const guests: ScheduleGuest[] = Array.from({ length: GUESTS }, (_, i) => ({
  vmid: 1000 + i,
  status: "running",
}));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

// The planner alone, from an in-memory history.
const history = new Map<string, TierHistory>();
for (const g of guests) {
  for (const tier of Object.keys(policy.tiers)) {
    history.set(historyKey(g.vmid, tier), { lastGoodAt: NOW - 60_000 });
  }
}
const pure: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const t0 = performance.now();
  const plan = planDueBackups({
    policy,
    guests,
    history,
    nowMs: NOW,
    startedAtMs: NOW - 86_400_000,
    catchupJitterMs: 300_000,
    running: 0,
    concurrency: 1,
    retryAfterMs: 3_600_000,
    utcOffsetMs: 0,
    seed: "bench",
  });
  pure.push(performance.now() - t0);
  if (plan.start.length + plan.waiting.length !== 0) throw new Error("something was due");
}

// A whole tick from the state database.
const dir = mkdtempSync(join(values.dir ?? tmpdir(), "felhom-backup-bench-"));
const store = openStore({ path: join(dir, "state.db"), clock });
let proxmoxCalls = 0;
try {
  store.backupPolicies.record(policy, "desired");
  store.db.transaction(() => {
    for (const g of guests) {
      for (const tier of Object.keys(policy.tiers)) {
        store.backupHistory.record({
          vmid: g.vmid,
          storage: tier,
          volid: `${tier}:backup/vzdump-lxc-${g.vmid}-2026_06_01-11_59_00.tar.zst`,
          result: "ok",
          startedAt: NOW - 120_000,
          finishedAt: NOW - 60_000,
          size: 1_000_000,
          reason: null,
          logTail: null,
          journalId: null,
        });
      }
    }
  })();
  const scheduler = new BackupScheduler({
    store,
    desired: () => undefined,
    engine: {
      enqueue: () => {
        throw new Error("nothing is due: the engine must not be called");
      },
    },
    listGuests: async () => {
      proxmoxCalls++;
      return guests;
    },
    pruneDryRun: async () => {
      proxmoxCalls++;
      return [];
    },
    clock,
    config: {
      floor: DEFAULT_BACKUP_FLOOR,
      catchupJitterMs: 300_000,
      concurrency: 1,
      retryAfterMs: 3_600_000,
      utcOffsetMs: 0,
      guestListMaxAgeMs: 900_000,
      seed: "bench",
    },
  });
  await scheduler.tick(); // the first tick reads the guest list once
  const callsAfterFirst = proxmoxCalls;
  const ticks: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const r = await scheduler.tick();
    ticks.push(performance.now() - t0);
    if (r.started.length !== 0) throw new Error("a steady tick started a backup");
  }
  const decisions = GUESTS * Object.keys(policy.tiers).length;
  console.log(`guests × tiers                                   ${decisions}`);
  console.log(`planner alone, median                            ${median(pure).toFixed(2)} ms`);
  console.log(`steady tick from the store, median               ${median(ticks).toFixed(2)} ms`);
  console.log(
    `steady tick from the store, max                  ${Math.max(...ticks).toFixed(2)} ms`,
  );
  console.log(
    `Proxmox calls: first tick ${callsAfterFirst}, ${ROUNDS} steady ticks ${proxmoxCalls - callsAfterFirst}`,
  );
  if (proxmoxCalls !== callsAfterFirst) process.exitCode = 1;
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
