import { afterEach, describe, expect, test } from "bun:test";
import { ProxmoxApiError } from "../../src/proxmox/api-error.ts";
import { Engine } from "../../src/reconcile/engine.ts";
import { isTransientRefusal, quickResend } from "../../src/reconcile/quick-retry.ts";
import { backoffDelayMs } from "../../src/util/backoff.ts";
import { JumpClock } from "../support/jump-clock.ts";
import { unsignedGate } from "../support/unsigned-gate.ts";
import { type Counting, counting, faultNextStart } from "./lost-support.ts";
import { Rig, until } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const apiError = (status: number, message: string) =>
  new ProxmoxApiError({
    status,
    statusText: message,
    method: "POST",
    path: "/nodes/pve/lxc/102/status/start",
    body: { data: null, message: `${message}\n` },
  });

describe("the quick re-send schedule", () => {
  test("about 1, 2, 4 s, jittered ±50 % by the injected random source", () => {
    const policy = quickResend(3);
    expect([0, 1, 2].map((n) => backoffDelayMs(policy, n, () => 0.5))).toEqual([1000, 2000, 4000]);
    expect(backoffDelayMs(policy, 0, () => 0)).toBe(500);
    expect(backoffDelayMs(policy, 2, () => 0.999)).toBe(5996);
  });

  test("only refusals that ran nothing are re-sent", () => {
    expect(isTransientRefusal(apiError(500, "got an internal error"))).toBe(true);
    expect(isTransientRefusal(apiError(503, "service unavailable"))).toBe(true);
    expect(isTransientRefusal(apiError(595, "Connection refused"))).toBe(true);
    // The hop may have delivered it: only the task-list search may decide.
    expect(isTransientRefusal(apiError(596, "Connection timed out"))).toBe(false);
    expect(isTransientRefusal(apiError(500, "CT is locked (backup)"))).toBe(false);
    expect(
      isTransientRefusal(
        apiError(500, "Configuration file 'nodes/pve/lxc/102.conf' does not exist"),
      ),
    ).toBe(false);
    expect(isTransientRefusal(new Error("ECONNRESET"))).toBe(false);
  });
});

function engineOn(r: Rig, c: Counting): Engine {
  return new Engine({
    store: r.store,
    client: c.client,
    gate: unsignedGate(r.store, r.clock),
    concurrency: 2,
    clock: r.clock,
    logger: r.logger,
    taskDeadlineMs: 20_000,
    lostAnswerPollMs: 20,
    quickRetry: quickResend(3),
    random: () => 0.5,
  });
}

const start102 = {
  op: "guest.start",
  vmid: 102,
  params: {},
  origin: "reconcile",
  priority: "background",
} as const;

describe("a POST refused with the simulator's 5xx fault", () => {
  test("a 500 is sent again after about 1 s and 2 s, not after the reconciler's back-off", async () => {
    const clock = new JumpClock();
    rig = await Rig.start({ taskMs: 50 }, { clock });
    const r = rig;
    const c = counting(r.client);
    // The first two start POSTs meet a 500 before the handler runs; the third goes through.
    c.beforeStart = () => r.sim.setFaults(c.starts() <= 2 ? { http500: 1 } : {});
    const engine = engineOn(r, c);
    const sub = await engine.enqueue(start102);
    await until(() => c.starts() === 1, "the first POST");
    await until(() => r.sim.stats().byStatus[500] === 1, "the first 500");
    await until(() => clock.sleeping(1000), "the 1 s pause");
    expect(c.starts()).toBe(1);
    clock.jump(1000);
    await until(() => r.sim.stats().byStatus[500] === 2, "the second 500");
    await until(() => clock.sleeping(2000), "the 2 s pause");
    expect(c.starts()).toBe(2);
    clock.jump(2000);
    const end = await sub.settled;
    expect(end.state).toBe("done");
    expect(c.starts()).toBe(3);
    expect(r.sim.state.guest(102)?.running).toBe(true);
    const entries = r.store.journal.forGuest(102);
    expect(entries.map((e) => [e.phase, e.attempts])).toEqual([["done", 1]]);
    await engine.stop();
  });

  test("after the quick re-sends the slow back-off takes over", async () => {
    const clock = new JumpClock();
    rig = await Rig.start({ taskMs: 50, faults: { http500: 1 } }, { clock });
    const r = rig;
    const c = counting(r.client);
    const engine = engineOn(r, c);
    const sub = await engine.enqueue(start102);
    for (const [n, delay] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ] as const) {
      await until(() => (r.sim.stats().byStatus[500] ?? 0) >= n, `500 number ${n}`);
      await until(() => clock.sleeping(delay), `the ${delay} ms pause`);
      clock.jump(delay);
    }
    const end = await sub.settled;
    expect(end.state).toBe("failed");
    expect(c.starts()).toBe(4);
    const [entry] = r.store.journal.forGuest(102);
    expect(entry?.phase).toBe("failed");
    expect(entry?.error).toMatchObject({ class: "retry", cause: "server" });
    await engine.stop();
  });

  test("a 596 may have reached Proxmox: never re-sent, searched for instead", async () => {
    const clock = new JumpClock();
    rig = await Rig.start({ taskMs: 50 }, { clock });
    const r = rig;
    const c = counting(r.client);
    const arrived = faultNextStart(r, c, { http596: 1 });
    const engine = engineOn(r, c);
    const sub = await engine.enqueue(start102);
    await arrived;
    await until(() => c.looks() >= 3, "three looks at the task list");
    clock.jump(5_000);
    await until(() => c.looks() >= 6, "three more looks");
    expect(c.starts()).toBe(1);
    expect(r.store.journal.inFlight().map((e) => e.phase)).toEqual(["intent"]);
    clock.jump(60_000);
    const end = await sub.settled;
    expect(end.state).toBe("failed");
    expect(r.store.journal.forGuest(102)[0]?.phase).toBe("abandoned");
    expect(c.starts()).toBe(1);
    await engine.stop();
  });
});
