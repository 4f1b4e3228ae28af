import { afterEach, describe, expect, test } from "bun:test";
import type { OperationRequest } from "../../src/ops/types.ts";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** What POST /v1/self/resources hands to the engine for guest 101. */
const grow = (params: Record<string, number>): OperationRequest => ({
  op: "guest.config",
  vmid: 101,
  params,
  origin: "localapi",
  priority: "interactive",
});

describe("a guest's own grow against the simulator", () => {
  test("kept over passes and a restart, withdrawn when the hub changes the field", async () => {
    const r = await Rig.start();
    rig = r;
    const cores = () => r.sim.state.guest(101)?.config.cores;
    r.setDesired({ version: 1, guests: { "101": { cores: 2, max_cores: 4 } } });
    expect((await r.reconciler.runPass()).planned).toEqual([]);
    expect(cores()).toBe(2);

    const sub = await r.engine.enqueue(grow({ cores: 4 }));
    expect((await sub.settled).state).toBe("done");
    expect(cores()).toBe(4);

    for (let pass = 0; pass < 3; pass++) {
      const report = await r.reconciler.runPass();
      expect(report.planned).toEqual([]);
      expect(report.overrides.standing).toMatchObject([
        { vmid: 101, field: "cores", value: 4, desiredValue: 2 },
      ]);
      expect(cores()).toBe(4);
    }
    // Reported once, as the guest's own request, however many passes keep it.
    const standingRows = () =>
      r.store.audit.list({ limit: 100 }).filter((a) => a.action === "guest.override");
    expect(standingRows()).toMatchObject([
      { actor: "guest:101", target: "guest:101", outcome: "standing" },
    ]);

    await r.restart();
    const afterRestart = await r.reconciler.runPass();
    expect(afterRestart.planned).toEqual([]);
    expect(afterRestart.overrides.standing).toHaveLength(1);
    expect(cores()).toBe(4);
    expect(standingRows()).toHaveLength(1);

    // The hub says something new about cores: desired wins and the override is gone.
    r.setDesired({ version: 1, guests: { "101": { cores: 3, max_cores: 4 } } });
    const changed = await r.reconciler.runPass();
    expect(changed.overrides.voided.map((v) => v.reason)).toEqual([
      "desired cores is now 3 (it was 2 when the guest grew it)",
    ]);
    expect(changed.planned.map((a) => a.params)).toEqual([{ cores: 3 }]);
    expect(changed.results.map((s) => s.state)).toEqual(["done"]);
    expect(cores()).toBe(3);
    expect(r.store.guestOverrides.forGuest(101)).toEqual([]);
    expect(
      r.store.audit
        .list({ limit: 100 })
        .filter((a) => a.action === "guest.override.withdraw")
        .map((a) => a.outcome),
    ).toEqual(["void"]);
    const settled = await r.reconciler.runPass();
    expect(settled.planned).toEqual([]);
    expect(settled.overrides).toEqual({ standing: [], voided: [] });
  });

  test("a memory grow stands while the hub changes cores; a reconcile config is no override", async () => {
    const r = await Rig.start();
    rig = r;
    r.setDesired({
      version: 1,
      guests: { "101": { cores: 2, memory_mib: 512, max_memory_mib: 2048 } },
    });
    await r.reconciler.runPass();
    expect((await (await r.engine.enqueue(grow({ memoryMiB: 1024 }))).settled).state).toBe("done");
    r.setDesired({
      version: 1,
      guests: { "101": { cores: 3, memory_mib: 512, max_memory_mib: 2048 } },
    });
    const pass = await r.reconciler.runPass();
    expect(pass.planned.map((a) => a.params)).toEqual([{ cores: 3 }]);
    expect(pass.overrides.voided).toEqual([]);
    expect(r.sim.state.guest(101)?.config).toMatchObject({ cores: 3, memory: 1024 });
    // Only the local API's request made an override, not the reconciler's change of cores.
    expect(r.store.guestOverrides.forGuest(101).map((o) => o.field)).toEqual(["memory_mib"]);
  });

  test("a quota lowered under the grown value: desired wins", async () => {
    const r = await Rig.start();
    rig = r;
    r.setDesired({ version: 1, guests: { "101": { cores: 2, max_cores: 4 } } });
    expect((await (await r.engine.enqueue(grow({ cores: 4 }))).settled).state).toBe("done");
    r.setDesired({ version: 1, guests: { "101": { cores: 2, max_cores: 3 } } });
    const pass = await r.reconciler.runPass();
    expect(pass.overrides.voided.map((v) => v.reason)).toEqual(["cores 4 is over max_cores 3"]);
    expect(r.sim.state.guest(101)?.config.cores).toBe(2);
    expect(r.store.guestOverrides.forGuest(101)).toEqual([]);
  });

  test("a grow that Proxmox refused never counts and is forgotten", async () => {
    const r = await Rig.start();
    rig = r;
    r.setDesired({ version: 1, guests: { "109": { cores: 2, max_cores: 4 } } });
    const sub = await r.engine.enqueue({ ...grow({ cores: 4 }), vmid: 109 });
    expect((await sub.settled).state).toBe("failed");
    expect(r.store.guestOverrides.inForce()).toEqual([]);
    expect(r.store.guestOverrides.forGuest(109)).toHaveLength(1);
    const pass = await r.reconciler.runPass();
    expect(pass.overrides).toEqual({ standing: [], voided: [] });
    expect(r.store.guestOverrides.forGuest(109)).toEqual([]);
  });

  test("a grow whose answer was lost in a crash counts once recovery finds it in effect", async () => {
    const r = await Rig.start();
    rig = r;
    r.setDesired({ version: 1, guests: { "101": { cores: 2, max_cores: 4 } } });
    // What the engine leaves behind when the process dies after the PUT took effect: the
    // intent and its override, written together, and no terminal phase.
    const journalId = r.store.journal.recordIntent({
      vmid: 101,
      op: "guest.config",
      params: { cores: 4 },
      origin: "localapi",
    });
    r.store.guestOverrides.record({
      journalId,
      vmid: 101,
      field: "cores",
      value: 4,
      desiredValue: 2,
    });
    const guest = r.sim.state.guest(101);
    if (guest === undefined) throw new Error("the simulator has no guest 101");
    guest.config.cores = 4;
    await r.restart();
    expect((await r.engine.resolve("recovery")).map((x) => x.kind)).toEqual(["done"]);
    const pass = await r.reconciler.runPass();
    expect(pass.planned).toEqual([]);
    expect(pass.overrides.standing).toMatchObject([{ journalId, value: 4 }]);
    expect(r.sim.state.guest(101)?.config.cores).toBe(4);
  });
});
