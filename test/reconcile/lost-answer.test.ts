import { afterEach, describe, expect, test } from "bun:test";
import { JumpClock } from "../support/jump-clock.ts";
import { agentOn, asRoot, counting, faultNextStart } from "./lost-support.ts";
import { Rig, until } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const vzstarts = (r: Rig) => r.sim.state.tasks().filter((t) => t.parts.type === "vzstart");

/**
 * A rig that wants 102 running, and a reconcile pass whose start POST never reached Proxmox;
 * resolves once the POST was dropped, with the pass still waiting on its unknown answer.
 */
async function passWithDroppedStart() {
  const clock = new JumpClock();
  const r = await Rig.start({ taskMs: 50 }, { clock });
  rig = r;
  r.setDesired({ version: 1, guests: { "102": { run: "running" } } });
  const c = counting(r.client);
  const { engine, reconciler } = agentOn(r, c.client);
  const arrived = faultNextStart(r, c, { drop: 1 });
  const pass = reconciler.runPass();
  await arrived;
  return { r, clock, c, engine, reconciler, pass };
}

describe("a POST whose answer was lost", () => {
  test("run by Proxmox after our timeout: found in the task list, posted exactly once", async () => {
    rig = await Rig.start({ taskMs: 100 }, { requestTimeoutMs: 300 });
    rig.setDesired({ version: 1, guests: { "102": { run: "running" } } });
    const c = counting(rig.client);
    const { engine, reconciler } = agentOn(rig, c.client);
    // The POST times out at 300 ms; the simulator runs it at 1500 ms, so the first looks at
    // the task list find nothing.
    const arrived = faultNextStart(rig, c, { latencyMs: 1500 });
    const pass = reconciler.runPass();
    await arrived;
    const first = await pass;
    expect(first.results.map((x) => x.state)).toEqual(["done"]);
    expect(c.looks()).toBeGreaterThan(1);
    const second = await reconciler.runPass();
    expect(second.planned).toEqual([]);
    expect(c.starts()).toBe(1);
    expect(vzstarts(rig).length).toBe(1);
    const [entry] = rig.store.journal.forGuest(102);
    expect(entry?.phase).toBe("done");
    expect(entry?.upid).toBe(vzstarts(rig)[0]?.upid ?? "");
    expect(entry?.resolution).toContain("found task");
    await engine.stop();
  });

  test("never reached Proxmox: unknown for the whole window, then re-read and sent once more", async () => {
    const { r, clock, c, engine, reconciler, pass } = await passWithDroppedStart();
    // Several looks, and still unknown: the entry stays in flight and the guest busy.
    await until(() => c.looks() >= 5, "five looks at the task list");
    expect(r.store.journal.inFlight().map((e) => e.phase)).toEqual(["intent"]);
    expect(engine.busyGuests().has(102)).toBe(true);
    clock.jump(60_000);
    const first = await pass;
    expect(first.results.map((x) => x.state)).toEqual(["failed"]);
    const [closed] = r.store.journal.forGuest(102);
    expect(closed?.phase).toBe("abandoned");
    expect(closed?.resolution).toContain("the change is not in effect");
    // Only now is it sent again, and it happens once.
    const second = await reconciler.runPass();
    expect(second.results.map((x) => x.state)).toEqual(["done"]);
    expect(c.starts()).toBe(2);
    expect(vzstarts(r).length).toBe(1);
    await engine.stop();
  });

  test("never reached Proxmox, but someone else made the change meanwhile: closed done, not re-sent", async () => {
    const { r, clock, c, engine, reconciler, pass } = await passWithDroppedStart();
    await until(() => c.looks() >= 2, "two looks at the task list");
    // An operator starts the guest while the agent's answer is unknown.
    await asRoot(r, async (root) => {
      await root.waitTask(await root.start(102), { deadlineMs: 5_000 });
    });
    clock.jump(60_000);
    const first = await pass;
    expect(first.results.map((x) => x.state)).toEqual(["done"]);
    const [closed] = r.store.journal.forGuest(102);
    expect(closed?.phase).toBe("done");
    expect(closed?.upid).toBeNull();
    expect(closed?.resolution).toContain("the change is in effect");
    expect((await reconciler.runPass()).planned).toEqual([]);
    expect(c.starts()).toBe(1);
    await engine.stop();
  });

  test("crash recovery applies the same window: a task that appears late is adopted", async () => {
    rig = await Rig.start({ taskMs: 100 }, { requestTimeoutMs: 300 });
    const c = counting(rig.client);
    const crashed = agentOn(rig, c.client);
    const arrived = faultNextStart(rig, c, { latencyMs: 1500 });
    const sub = await crashed.engine.enqueue({
      op: "guest.start",
      vmid: 102,
      params: {},
      origin: "localapi",
      priority: "interactive",
    });
    await arrived;
    // The agent stops while the answer is unknown: the entry is left `intent`.
    await until(() => c.looks() >= 1, "a first look");
    await crashed.engine.stop();
    await sub.settled;
    expect(rig.store.journal.inFlight().map((e) => e.phase)).toEqual(["intent"]);
    const restarted = agentOn(rig, c.client);
    const [r] = await restarted.engine.resolve("recovery");
    const store = rig.store;
    if (r?.kind === "unknown") {
      expect(restarted.engine.busyGuests().has(102)).toBe(true);
      await until(() => store.journal.inFlight().length === 0, "the entry to settle");
    }
    const [entry] = store.journal.forGuest(102);
    expect(entry?.phase).toBe("done");
    expect(entry?.resolution ?? "").toStartWith("recovery: found task");
    expect(c.starts()).toBe(1);
    expect(vzstarts(rig).length).toBe(1);
    await restarted.engine.stop();
  });
});
