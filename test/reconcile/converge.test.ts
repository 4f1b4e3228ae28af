import { afterEach, describe, expect, test } from "bun:test";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("reconcile against the simulator", () => {
  test("converges cores, memory, description and run state, then a pass does nothing", async () => {
    rig = await Rig.start();
    rig.setDesired({
      version: 1,
      guests: {
        "101": {
          cores: 4,
          memory_bytes: 3 * 1024 * 1024 * 1024 + 1,
          description: "Customer A\n\n",
        },
        "102": { run: "running", cores: 1 },
      },
    });
    const first = await rig.reconciler.runPass();
    expect(first.planned.map((a) => `${a.op} ${a.vmid}`)).toEqual([
      "guest.config 101",
      "guest.config 102",
      "guest.start 102",
    ]);
    expect(first.results.map((r) => r.state)).toEqual(["done", "done", "done"]);
    const g101 = rig.sim.state.guest(101);
    expect(g101?.config.cores).toBe(4);
    expect(g101?.config.memory).toBe(3073);
    expect(rig.sim.state.guest(102)?.running).toBe(true);
    const second = await rig.reconciler.runPass();
    expect(second.planned).toEqual([]);
    expect(rig.store.journal.inFlight()).toEqual([]);
    expect(rig.store.journal.recent().every((e) => e.phase === "done")).toBe(true);
  });
});
