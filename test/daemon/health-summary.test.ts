import { expect, test } from "bun:test";
import { HealthSummary } from "../../src/daemon/health-summary.ts";
import type { PassReport } from "../../src/reconcile/reconciler.ts";
import { recordingLogger } from "../proxmox/support/recording-logger.ts";
import { ManualClock } from "../support/manual-clock.ts";

function report(over: Partial<PassReport> = {}): PassReport {
  return {
    haveDesired: true,
    guestsSeen: 3,
    managed: 2,
    configReads: 1,
    planned: [],
    skipped: [],
    held: [],
    results: [],
    overrides: { standing: [], voided: [] },
    done: 0,
    failed: 0,
    hung: [],
    durationMs: 5,
    ...over,
  };
}

test("one info line per interval, counting the passes in between", () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const log = recordingLogger();
  const s = new HealthSummary({
    clock,
    logger: log,
    intervalMin: 60,
    pendingSignatures: () => 2,
    version: "1.2.3",
  });
  // 30 s passes for 59.5 minutes: no summary yet.
  for (let i = 0; i < 119; i++) {
    clock.t += 30_000;
    s.pass(report());
  }
  expect(log.records).toEqual([]);
  clock.t += 30_000;
  s.pass(report({ done: 1, planned: [{} as PassReport["planned"][number]] }));
  expect(log.records).toHaveLength(1);
  const r = log.records[0];
  expect(r?.level).toBe("info");
  expect(r?.msg).toBe("health summary");
  expect(r?.fields).toMatchObject({
    version: "1.2.3",
    uptime_s: 3600,
    window_s: 3600,
    passes: 120,
    idle_passes: 119,
    pass_errors: 0,
    operations_done: 1,
    desired: "present",
    guests_seen: 3,
    managed: 2,
    pending_signatures: 2,
    hub: "not_enrolled",
  });
  // The next window starts afresh and errors count too.
  clock.t += 30 * 60_000;
  s.passError();
  clock.t += 30 * 60_000;
  s.passError();
  expect(log.records).toHaveLength(2);
  expect(log.records[1]?.fields).toMatchObject({ passes: 0, pass_errors: 2, uptime_s: 7200 });
});

test("an interval of 0 turns the summary off", () => {
  const clock = new ManualClock(0);
  const log = recordingLogger();
  const s = new HealthSummary({
    clock,
    logger: log,
    intervalMin: 0,
    pendingSignatures: () => 0,
    version: "x",
  });
  for (let i = 0; i < 10; i++) {
    clock.t += 86_400_000;
    s.pass(report());
  }
  expect(log.records).toEqual([]);
});

test("an enrolled host's summary says whether the hub answers", () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const log = recordingLogger();
  const s = new HealthSummary({
    clock,
    logger: log,
    intervalMin: 1,
    pendingSignatures: () => 0,
    version: "x",
    hub: () => ({ consecutiveFailures: 3, lastSuccessAt: Date.UTC(2026, 4, 31, 23) }),
  });
  clock.t += 60_000;
  s.pass(report());
  expect(log.records[0]?.fields).toMatchObject({
    hub: "unreachable",
    hub_failures: 3,
    hub_last_success: "2026-05-31T23:00:00.000Z",
  });
});
