import { afterEach, describe, expect, test } from "bun:test";
import { measureNodeOffset } from "../../src/reconcile/clock-offset.ts";
import type { Engine } from "../../src/reconcile/engine.ts";
import type { Clock } from "../../src/util/clock.ts";
import { JumpClock } from "../support/jump-clock.ts";
import { agentOn, asRoot, counting, faultNextStart } from "./lost-support.ts";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** The simulated node's clock: ours, `skewMs` off. */
function skewed(ours: JumpClock, skewMs: number): Clock {
  return { now: () => ours.now() + skewMs, sleep: (ms, signal) => ours.sleep(ms, signal) };
}

/** guest.start of 102, as the reconciler enqueues it. */
function startInBackground(engine: Engine) {
  return engine.enqueue({
    op: "guest.start",
    vmid: 102,
    params: {},
    origin: "reconcile",
    priority: "background",
  });
}

const SKEWS = [-30_000, -3_000, 3_000, 30_000];

describe("a lost answer on a node whose clock is off", () => {
  for (const skewMs of SKEWS) {
    test(`node clock ${skewMs / 1000} s off: the offset is measured within its uncertainty`, async () => {
      const clock = new JumpClock();
      rig = await Rig.start({ clock: skewed(clock, skewMs) }, { clock });
      const o = await measureNodeOffset(rig.client, clock);
      expect(Math.abs(o.offsetMs - skewMs)).toBeLessThanOrEqual(o.uncertaintyMs);
      expect(o.uncertaintyMs).toBeLessThan(2_000);
    });

    test(`node clock ${skewMs / 1000} s off: our task is matched, not missed and not an older one`, async () => {
      const clock = new JumpClock();
      rig = await Rig.start({ clock: skewed(clock, skewMs), taskMs: 50 }, { clock });
      const r = rig;
      // Someone else started and stopped the guest a little earlier: a task of the same type
      // on the same guest that is not ours.
      await asRoot(r, async (root) => {
        await root.waitTask(await root.start(102), { deadlineMs: 5_000 });
        await root.waitTask(await root.stop(102), { deadlineMs: 5_000 });
      });
      // 4 s before ours: within the 2 s the old match allowed once the node runs 3 s ahead.
      clock.jump(4_000);
      const c = counting(r.client);
      const { engine } = agentOn(r, c.client);
      // The POST runs, and its answer is lost on the way back.
      const arrived = faultNextStart(r, c, { dropAfter: 1 });
      const sub = await startInBackground(engine);
      await arrived;
      const end = await sub.settled;
      const ours = r.sim.state
        .tasks()
        .filter((t) => t.parts.type === "vzstart" && t.parts.user.startsWith("felhom"));
      expect(ours.length).toBe(1);
      const [entry] = r.store.journal.forGuest(102);
      expect({ state: end.state, phase: entry?.phase, upid: entry?.upid }).toEqual({
        state: "done",
        phase: "done",
        upid: ours[0]?.upid ?? "",
      });
      expect(c.starts()).toBe(1);
      expect(c.clockReads()).toBe(1);
      await engine.stop();
    });
  }

  test("an injected offset is used as given: no clock read", async () => {
    const clock = new JumpClock();
    rig = await Rig.start({ clock: skewed(clock, -30_000), taskMs: 50 }, { clock });
    const c = counting(rig.client);
    const { engine } = agentOn(rig, c.client, {
      clockOffset: { clockOffset: () => ({ offsetMs: -30_000, uncertaintyMs: 1_000 }) },
    });
    const arrived = faultNextStart(rig, c, { dropAfter: 1 });
    const sub = await startInBackground(engine);
    await arrived;
    expect((await sub.settled).state).toBe("done");
    expect(rig.store.journal.forGuest(102)[0]?.resolution).toContain("found task");
    expect(c.clockReads()).toBe(0);
    expect(c.starts()).toBe(1);
    await engine.stop();
  });
});

describe("measureNodeOffset", () => {
  test("the offset is the middle of what the node's whole second and our two readings allow", async () => {
    const readings = [1_000, 1_200];
    const clock = { now: () => readings.shift() ?? Number.NaN };
    const node = { nodeTime: async () => ({ timeSec: 5 }) };
    // Node instant in [5000, 5999], ours in [1000, 1200]: offset in [3800, 4999].
    expect(await measureNodeOffset(node, clock)).toEqual({ offsetMs: 4400, uncertaintyMs: 600 });
  });
});
