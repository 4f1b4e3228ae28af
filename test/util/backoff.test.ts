import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { passInterval } from "../../src/daemon/reconcile-daemon.ts";
import { healthyPoll, nextPollDelay, outagePoll } from "../../src/hub/backoff.ts";
import { proxmoxRequestRetry } from "../../src/proxmox/retry.ts";
import { pollBackoff } from "../../src/proxmox/wait-task.ts";
import { defaultQuickRetry } from "../../src/reconcile/quick-retry.ts";
import { actionRetry, defaultRetryPolicy } from "../../src/reconcile/retry-book.ts";
import {
  type Backoff,
  backoffCeilingMs,
  backoffDelayMs,
  type Jitter,
  stepDelayMs,
} from "../../src/util/backoff.ts";

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const jitter: fc.Arbitrary<Jitter> = fc.oneof(
  fc.constant<Jitter>({ kind: "none" }),
  fc.constant<Jitter>({ kind: "full" }),
  fc.integer({ min: 0, max: 100 }).map((pct): Jitter => ({ kind: "spread", pct })),
);
const backoff: fc.Arbitrary<Backoff> = fc.record({
  baseMs: fc.integer({ min: 0, max: 600_000 }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
  capMs: fc.oneof(fc.integer({ min: 0, max: 86_400_000 }), fc.constant(Number.POSITIVE_INFINITY)),
  jitter,
});
const retry = fc.integer({ min: 0, max: 2000 });

describe("the back-off formula", () => {
  test("is never negative and never above the cap, jitter included", () => {
    fc.assert(
      fc.property(backoff, retry, unit, (b, n, r) => {
        const d = backoffDelayMs(b, n, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(b.capMs);
        expect(Number.isNaN(d)).toBe(false);
      }),
    );
  });

  test("without jitter it never shrinks from one retry to the next", () => {
    fc.assert(
      fc.property(backoff, retry, (b, n) => {
        const plain = { ...b, jitter: { kind: "none" } as const };
        expect(backoffDelayMs(plain, n + 1, () => 0)).toBeGreaterThanOrEqual(
          backoffDelayMs(plain, n, () => 0),
        );
      }),
    );
  });

  test("the jittered delay stays within its spread of the un-jittered one", () => {
    fc.assert(
      fc.property(backoff, retry, unit, (b, n, r) => {
        const ceiling = backoffCeilingMs(b, n);
        const d = backoffDelayMs(b, n, () => r);
        // An uncapped back-off that outgrew every number stays there, unjittered.
        if (!Number.isFinite(ceiling)) return expect(d).toBe(ceiling);
        if (b.jitter.kind === "full") expect(d).toBeLessThanOrEqual(ceiling);
        if (b.jitter.kind === "spread") {
          const spread = (b.jitter.pct / 100) * ceiling;
          expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling - spread));
          expect(d).toBeLessThanOrEqual(Math.ceil(ceiling + spread));
        }
      }),
    );
  });

  test("a huge retry number reaches the cap instead of Infinity or NaN", () => {
    const b: Backoff = { baseMs: 1, factor: 2, capMs: 5000, jitter: { kind: "none" } };
    expect(backoffDelayMs(b, 10_000, () => 0)).toBe(5000);
    expect(backoffDelayMs({ ...b, baseMs: 0 }, 10_000, () => 0)).toBe(0);
  });

  test("a hand-picked step table repeats its last entry", () => {
    expect([0, 1, 2, 3, 9].map((n) => stepDelayMs([1000, 2000, 5000], n))).toEqual([
      1000, 2000, 5000, 5000, 5000,
    ]);
  });
});

// The formulas each use had before they shared one, kept here to prove the schedules did not move.
const before = {
  proxmox: (attempt: number, r: number) => Math.floor(r * Math.min(2000, 200 * 2 ** (attempt - 1))),
  action: (attempts: number) => Math.min(15 * 60_000, 30_000 * 2 ** Math.max(0, attempts - 1)),
  quick: (n: number, r: number) => Math.round(1000 * 2 ** n * (0.5 + r)),
  hub: (
    t: { intervalMs: number; jitterPct: number; backoffMaxMs: number },
    f: number,
    r: number,
  ) => {
    const base =
      f <= 0 ? t.intervalMs : Math.min(t.backoffMaxMs, t.intervalMs * 2 ** Math.min(f, 30));
    const spread = (t.jitterPct / 100) * base;
    const delay = base - spread + r * 2 * spread;
    return Math.max(
      0,
      Math.min(Math.round(delay), f <= 0 ? Math.round(base + spread) : t.backoffMaxMs),
    );
  },
  pass: (intervalS: number, pct: number, r: number) => {
    const base = intervalS * 1000;
    const spread = (base * pct) / 100;
    return Math.max(0, Math.round(base - spread / 2 + r * spread));
  },
  poll: (k: number) => {
    let delay = 250;
    for (let i = 0; i < k; i++) delay = Math.min(2000, delay * 1.5);
    return delay;
  },
};

describe("each use keeps its schedule", () => {
  test("Proxmox request retries: full jitter under 200, 400, 800 ms … capped at 2 s", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), unit, (attempt, r) => {
        expect(backoffDelayMs(proxmoxRequestRetry, attempt - 1, () => r)).toBe(
          before.proxmox(attempt, r),
        );
      }),
    );
    expect(proxmoxRequestRetry.attempts).toBe(3);
  });

  test("reconcile action retries: 30 s doubling to 15 min, five attempts by default", () => {
    for (let attempts = 1; attempts <= 12; attempts++) {
      expect(backoffDelayMs(defaultRetryPolicy, attempts - 1, () => 0.7)).toBe(
        before.action(attempts),
      );
    }
    expect(defaultRetryPolicy.attempts).toBe(5);
    expect(actionRetry(3).attempts).toBe(3);
  });

  test("quick re-sends: 1, 2, 4 s ±50 %, three by default", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), unit, (n, r) => {
        expect(backoffDelayMs(defaultQuickRetry, n, () => r)).toBe(before.quick(n, r));
      }),
    );
    expect(defaultQuickRetry.attempts).toBe(4);
  });

  test("hub polling: the jittered interval when healthy, doubling to the cap in an outage", () => {
    const timing = fc.record({
      intervalMs: fc.integer({ min: 1000, max: 3_600_000 }),
      jitterPct: fc.integer({ min: 0, max: 100 }),
      backoffMaxMs: fc.integer({ min: 1000, max: 86_400_000 }),
    });
    fc.assert(
      fc.property(timing, fc.integer({ min: 0, max: 40 }), unit, (t, f, r) => {
        expect(nextPollDelay(t, f, () => r)).toBe(before.hub(t, f, r));
      }),
    );
    const t = { intervalMs: 1000, jitterPct: 0, backoffMaxMs: 8000 };
    expect(healthyPoll(t).capMs).toBe(Number.POSITIVE_INFINITY);
    expect(outagePoll(t).capMs).toBe(8000);
  });

  test("reconcile passes: the interval spread over jitter_pct % of itself in all", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 86_400 }),
        fc.integer({ min: 0, max: 100 }),
        unit,
        (interval_s, jitter_pct, r) => {
          expect(backoffDelayMs(passInterval({ interval_s, jitter_pct }), 0, () => r)).toBe(
            before.pass(interval_s, jitter_pct, r),
          );
        },
      ),
    );
  });

  test("task polling: 250 ms ×1.5 per poll up to 2 s", () => {
    const b = pollBackoff({ initialMs: 250, factor: 1.5, maxMs: 2000 });
    for (let k = 0; k < 12; k++) expect(backoffCeilingMs(b, k)).toBe(before.poll(k));
  });
});
