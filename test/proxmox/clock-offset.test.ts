import { describe, expect, test } from "bun:test";
import { createClockOffsetTracker } from "../../src/proxmox/clock-offset.ts";
import { startPveSimulator } from "../../src/sim/pve/index.ts";
import { JumpClock } from "../support/jump-clock.ts";
import { agentClient } from "./support/agent-client.ts";

const T = Date.UTC(2026, 5, 1, 12, 0, 0);
const http = (ms: number) => new Date(ms).toUTCString();

describe("clock offset from Date headers", () => {
  test("nothing recorded, nothing estimated; absent or garbled headers are ignored", () => {
    const t = createClockOffsetTracker();
    expect(t.estimate()).toBeUndefined();
    t.record(null, T, T + 10);
    t.record("yesterday-ish", T, T + 10);
    expect(t.estimate()).toBeUndefined();
  });

  test("one answer bounds the offset by its round trip and the header's whole second", () => {
    const t = createClockOffsetTracker();
    // Proxmox is 3.4 s ahead; the request took 20 ms; its Date says T+3 s (rounded down).
    t.record(http(T + 3000), T - 400, T - 380);
    const e = t.estimate();
    // offset within [T+3000-(T-380), T+4000-(T-400)] = [3380, 4400].
    expect(e).toEqual({ offsetMs: 3890, uncertaintyMs: 510, sampledAt: T - 380, samples: 1 });
  });

  test("answers that agree narrow the estimate below the header's one-second resolution", () => {
    const t = createClockOffsetTracker();
    const offset = 3400;
    for (let i = 0; i < 20; i++) {
      const sent = T + i * 1370;
      const stamped = sent + 5 + offset;
      t.record(http(Math.floor(stamped / 1000) * 1000), sent, sent + 10);
    }
    const e = t.estimate();
    expect(e?.samples).toBe(20);
    expect(Math.abs((e?.offsetMs ?? 0) - offset)).toBeLessThanOrEqual(e?.uncertaintyMs ?? 0);
    expect(e?.uncertaintyMs).toBeLessThan(100);
  });

  test("a stepped clock starts the estimate again instead of averaging it away", () => {
    const t = createClockOffsetTracker();
    t.record(http(T + 3000), T, T + 10);
    t.record(http(T + 5000 - 60_000), T + 2000, T + 2010);
    const e = t.estimate();
    expect(e?.samples).toBe(1);
    expect(e?.offsetMs).toBeLessThan(-50_000);
  });

  test("old answers stop narrowing the estimate", () => {
    const t = createClockOffsetTracker({ maxAgeMs: 60_000 });
    t.record(http(T), T, T + 10);
    t.record(http(T + 120_000), T + 120_000, T + 120_010);
    expect(t.estimate()?.samples).toBe(1);
  });
});

describe("clockOffset() against a simulator whose clock is skewed", () => {
  test("the estimate contains the skew, from ordinary answers", async () => {
    const skewMs = 3_000 + 437;
    const skewed = new JumpClock();
    skewed.jump(skewMs);
    const sim = await startPveSimulator({ clock: skewed, authFailDelayMs: 1 });
    const c = agentClient(sim);
    try {
      expect(c.clockOffset()).toBeUndefined();
      await c.version();
      const first = c.clockOffset();
      expect(first?.samples).toBe(1);
      for (let i = 0; i < 5; i++) {
        await c.nodeStatus();
        await Bun.sleep(150);
      }
      // An error answer carries the header too.
      await c.guestStatus(9999).catch(() => undefined);
      const e = c.clockOffset();
      if (!e) throw new Error("no estimate");
      expect(e.samples).toBeGreaterThan(1);
      expect(Math.abs(e.offsetMs - skewMs)).toBeLessThanOrEqual(e.uncertaintyMs);
      expect(e.uncertaintyMs).toBeLessThanOrEqual(first?.uncertaintyMs ?? 0);
    } finally {
      c.close();
      await sim.stop();
    }
  });
});
