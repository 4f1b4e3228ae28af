import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { BackupPolicy } from "../../src/ops/params/backup-policy.ts";
import {
  currentPeriod,
  type DueInput,
  guestTiers,
  historyKey,
  planDueBackups,
  type ScheduleGuest,
  type TierHistory,
} from "../../src/reconcile/backup-due.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 5, 1, 0, 0, 0);

const POLICY: BackupPolicy = {
  tiers: {
    nas1: { schedule: { daily: "01:00-05:00" }, retention: { keep_last: 3, keep_daily: 7 } },
    pbs1: { schedule: { every_hours: 6 }, retention: { keep_daily: 14 } },
  },
  guests: {
    "101": { tiers: { nas1: { schedule: { daily: "22:00-23:30" } } } },
    "102": { exclude: true },
  },
};

function input(over: Partial<DueInput>): DueInput {
  return {
    policy: POLICY,
    guests: [],
    history: new Map(),
    nowMs: T0,
    startedAtMs: T0 - 30 * DAY,
    catchupJitterMs: 300_000,
    running: 0,
    concurrency: 1,
    retryAfterMs: HOUR,
    utcOffsetMs: 0,
    seed: "host-a",
    ...over,
  };
}

const running = (vmid: number): ScheduleGuest => ({ vmid, status: "running" });

/**
 * Runs the scheduler minute by minute from `from` to `to`: each started backup succeeds at
 * once (recorded as good) and is counted. `restartAt` starts a new scheduler there, with only
 * the recorded history surviving, as after a crash.
 */
function simulate(o: {
  guests: ScheduleGuest[];
  from: number;
  to: number;
  stepMs: number;
  down?: [number, number];
  concurrency?: number;
}): { runs: Map<string, number[]>; reasons: string[] } {
  const history = new Map<string, TierHistory>();
  const runs = new Map<string, number[]>();
  const reasons: string[] = [];
  let startedAt = o.from;
  for (let t = o.from; t <= o.to; t += o.stepMs) {
    if (o.down && t >= o.down[0] && t < o.down[1]) {
      startedAt = o.down[1];
      continue;
    }
    const plan = planDueBackups(
      input({
        guests: o.guests,
        history,
        nowMs: t,
        startedAtMs: startedAt,
        concurrency: o.concurrency ?? 1,
      }),
    );
    for (const d of plan.start) {
      const key = historyKey(d.vmid, d.storage);
      history.set(key, { lastGoodAt: t });
      runs.set(key, [...(runs.get(key) ?? []), t]);
      reasons.push(d.reason);
    }
  }
  return { runs, reasons };
}

describe("the due-time planner", () => {
  test("a guest override replaces the host's schedule; an excluded guest gets nothing", () => {
    expect(guestTiers(POLICY, 101).map(([s, t]) => [s, t.schedule])).toEqual([
      ["nas1", { daily: "22:00-23:30" }],
      ["pbs1", { every_hours: 6 }],
    ]);
    expect(guestTiers(POLICY, 102)).toEqual([]);
    const plan = planDueBackups(input({ guests: [running(102)] }));
    expect(plan.skipped.map((s) => s.reason)).toEqual(["excluded", "excluded"]);
  });

  test("a daily window that crosses midnight: the period opens at the window's start", () => {
    const p = currentPeriod({ daily: "22:00-02:00" }, T0 + HOUR, 0);
    expect(p.startMs).toBe(T0 - 2 * HOUR);
    expect(p.windowEndMs).toBe(T0 + 2 * HOUR);
  });

  test("each guest backs up once per period on each tier, inside its window", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 103, max: 400 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 2, max: 4 }),
        (vmids, days) => {
          const { runs } = simulate({
            guests: vmids.map(running),
            from: T0,
            to: T0 + days * DAY - 1,
            stepMs: 5 * 60_000,
            concurrency: 4,
          });
          for (const vmid of vmids) {
            // The first is the catch-up of yesterday's window (no good backup yet, due at
            // once at the start); then one a day inside the window.
            const [first, ...nas] = runs.get(historyKey(vmid, "nas1")) ?? [];
            expect(first).toBeGreaterThanOrEqual(T0);
            // Within the catch-up spread, plus a few ticks when other guests hold the slots.
            expect(first).toBeLessThanOrEqual(T0 + 30 * 60_000);
            expect(nas.length).toBe(days);
            for (const t of nas) {
              // Inside the window; a guest's other tier taking the same tick may push a start
              // a step or two past its slot, never further here (backups finish at once).
              const day = Math.floor(t / DAY) * DAY;
              expect(t).toBeGreaterThanOrEqual(day + HOUR);
              expect(t).toBeLessThanOrEqual(day + 5 * HOUR + 10 * 60_000);
            }
            const pbs = runs.get(historyKey(vmid, "pbs1")) ?? [];
            expect(pbs.length).toBe(days * 4);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test("after downtime over several periods, each guest catches up once, never twice", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 103, max: 400 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 23 }),
        (vmids, downDays, restartHour) => {
          const downFrom = T0 + DAY;
          const downTo = downFrom + downDays * DAY + restartHour * HOUR;
          const end = downTo + 30 * 60_000;
          const { runs } = simulate({
            guests: vmids.map(running),
            from: T0,
            to: end,
            stepMs: 60_000,
            down: [downFrom, downTo],
            concurrency: 8,
          });
          for (const vmid of vmids) {
            const after = (runs.get(historyKey(vmid, "nas1")) ?? []).filter((t) => t >= downTo);
            // One for the missed days at most, and it starts within the catch-up spread.
            expect(after.length).toBeLessThanOrEqual(1);
            if (after.length === 1 && (after[0] as number) < downTo + 300_001) {
              expect(after[0] as number).toBeGreaterThanOrEqual(downTo);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test("missed periods are caught up within the jitter after the start, once", () => {
    const startedAt = T0 + 12 * HOUR;
    const plan = planDueBackups(
      input({
        guests: [running(200), running(201)],
        nowMs: startedAt + 300_000,
        startedAtMs: startedAt,
        concurrency: 4,
      }),
    );
    const nas = [...plan.start, ...plan.waiting].filter((d) => d.storage === "nas1");
    expect(nas.map((d) => d.reason)).toEqual(["catch_up", "catch_up"]);
    for (const d of nas) {
      expect(d.notBeforeMs).toBeGreaterThanOrEqual(startedAt);
      expect(d.notBeforeMs).toBeLessThanOrEqual(startedAt + 300_000);
    }
  });

  test("never more at once than the concurrency, never two tiers of one guest at once", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 103, max: 999 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 7 * DAY }),
        (vmids, concurrency, busy, offset) => {
          const plan = planDueBackups(
            input({ guests: vmids.map(running), nowMs: T0 + offset, concurrency, running: busy }),
          );
          expect(plan.start.length).toBeLessThanOrEqual(Math.max(0, concurrency - busy));
          expect(new Set(plan.start.map((d) => d.vmid)).size).toBe(plan.start.length);
          for (const d of plan.start) expect(d.notBeforeMs).toBeLessThanOrEqual(T0 + offset);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("locked, busy, already running and stopped-unchanged guests are skipped, with the reason", () => {
    const history = new Map<string, TierHistory>([
      [historyKey(303, "nas1"), { inFlight: true }],
      [historyKey(304, "nas1"), { lastGoodAt: T0 - 3 * DAY, unchangedAt: T0 + HOUR }],
      [historyKey(304, "pbs1"), { lastGoodAt: T0 - 3 * DAY, unchangedAt: T0 + HOUR }],
    ]);
    const plan = planDueBackups(
      input({
        history,
        nowMs: T0 + 3 * HOUR,
        guests: [
          { vmid: 301, status: "running", lock: "backup" },
          { vmid: 302, status: "running", busy: true },
          { vmid: 304, status: "stopped" },
        ],
      }),
    );
    const reasons = plan.skipped.map((s) => `${s.vmid}/${s.storage}:${s.reason}`);
    expect(reasons).toEqual([
      "301/nas1:locked",
      "301/pbs1:locked",
      "302/nas1:busy",
      "302/pbs1:busy",
      "304/nas1:stopped_unchanged",
      "304/pbs1:stopped_unchanged",
    ]);
    const inflight = planDueBackups(
      input({ history, nowMs: T0 + 3 * HOUR, guests: [running(303)] }),
    );
    expect(inflight.skipped.map((s) => s.reason)).toEqual(["in_flight"]);
  });

  test("found unchanged in this period, a stopped guest is skipped; otherwise it is due as usual", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 * DAY }),
        fc.integer({ min: 1, max: 40 * DAY }),
        fc.integer({ min: 0, max: 40 * DAY }),
        fc.boolean(),
        (offset, goodAgo, unchangedAgo, stopped) => {
          const nowMs = T0 + offset;
          const h: TierHistory = { lastGoodAt: nowMs - goodAgo, unchangedAt: nowMs - unchangedAgo };
          const plan = planDueBackups(
            input({
              policy: { tiers: { pbs1: POLICY.tiers.pbs1 as BackupPolicy["tiers"][string] } },
              history: new Map([[historyKey(400, "pbs1"), h]]),
              nowMs,
              startedAtMs: nowMs - 60 * DAY,
              guests: [{ vmid: 400, status: stopped ? "stopped" : "running" }],
            }),
          );
          const period = currentPeriod({ every_hours: 6 }, nowMs, 0);
          const goodThisPeriod = (h.lastGoodAt as number) >= period.startMs;
          const unchangedThisPeriod = (h.unchangedAt as number) >= period.startMs;
          const skippedUnchanged = plan.skipped.some((x) => x.reason === "stopped_unchanged");
          const due = plan.start.length + plan.waiting.length > 0;
          if (goodThisPeriod) {
            expect(due || skippedUnchanged).toBe(false);
          } else if (stopped && unchangedThisPeriod) {
            expect(skippedUnchanged).toBe(true);
            expect(due).toBe(false);
          } else {
            expect(skippedUnchanged).toBe(false);
            expect(due).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a failure in this period is retried after the back-off, not at every tick", () => {
    const failedAt = T0 + 2 * HOUR;
    const history = new Map<string, TierHistory>([
      [historyKey(400, "nas1"), { lastFailedAt: failedAt }],
      [historyKey(400, "pbs1"), { lastGoodAt: T0 + 3 * HOUR }],
    ]);
    const soon = planDueBackups(
      input({ history, nowMs: failedAt + 60_000, guests: [running(400)] }),
    );
    expect(soon.start.filter((d) => d.storage === "nas1")).toEqual([]);
    const later = planDueBackups(
      input({ history, nowMs: T0 + 5 * HOUR - 1, guests: [running(400)], concurrency: 2 }),
    );
    expect(later.start.find((d) => d.storage === "nas1")?.reason).toBe("retry");
  });
});
