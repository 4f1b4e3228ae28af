import { afterEach, expect, test } from "bun:test";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { Reconciler } from "../../src/reconcile/reconciler.ts";
import { systemClock } from "../../src/util/clock.ts";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

test("a pass racing with an in-flight start plans nothing for that guest", async () => {
  rig = await Rig.start({ taskMs: 200 });
  rig.setDesired({ version: 1, guests: { "102": { run: "running" } } });
  const r = rig;
  // A start from the local API is running when the pass begins.
  const inFlight = await r.engine.enqueue({
    op: "guest.start",
    vmid: 102,
    params: {},
    origin: "localapi",
    priority: "interactive",
  });
  // The pass reads the guest list while the start runs (so 102 reads `stopped`), and the start
  // ends before the pass gets any further: the worst interleaving, made deterministic.
  const racing: Pick<ProxmoxClient, "listLXC" | "guestConfig"> = {
    listLXC: async (o) => {
      const list = await r.client.listLXC(o);
      await inFlight.settled;
      return list;
    },
    guestConfig: (vmid, o) => r.client.guestConfig(vmid, o),
  };
  const reconciler = new Reconciler({
    engine: r.engine,
    client: racing,
    desired: r.desired,
    clock: systemClock,
    logger: r.logger,
    readConcurrency: 2,
  });
  const report = await reconciler.runPass();
  expect((await inFlight.settled).state).toBe("done");
  expect(report.planned.filter((a) => a.vmid === 102)).toEqual([]);
  expect(r.sim.state.tasks().filter((t) => t.parts.type === "vzstart").length).toBe(1);
  // The next pass sees it running and still plans nothing.
  expect((await r.reconciler.runPass()).planned).toEqual([]);
});
