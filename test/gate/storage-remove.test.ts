import { afterEach, expect, test } from "bun:test";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import type { HostOpDeps } from "../../src/reconcile/storage-executors.ts";
import { SimHostFs } from "../../src/sim/pve/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { Rig } from "../reconcile/support.ts";
import { ed, GateHarness, HOST, signersAt } from "./support.ts";

// storage.remove end to end: held unsigned, refused while the desired state backs up to the
// target, and with a signature the definition goes while the disk stays mounted.

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
let rig: Rig | undefined;
let signer: GateHarness | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
  signer?.cleanup();
  signer = undefined;
});

test("storage.remove: held unsigned; signed, refused while referenced, then deleted with the disk left mounted", async () => {
  const fs = new SimHostFs();
  const refs = new Map<string, string[]>([["usb1", ["guest 101's backup_storage"]]]);
  let deps: HostOpDeps | undefined;
  const r = await Rig.start(
    { hostFs: fs },
    {
      makeGate: (store) =>
        new ReversibilityGate({
          store,
          hostId: HOST,
          signers: signersAt(Date.now()),
          clock: systemClock,
          ed25519: ed,
        }),
      engine: {
        get hostOps() {
          return deps;
        },
      } as never,
    },
  );
  rig = r;
  deps = {
    client: r.client,
    privileged: createPrivileged({ runner: fs.runner() }),
    openSecret: () => {
      throw new Error("unused");
    },
    storageReferences: () => refs,
  };
  r.engine = r.makeEngine();
  fs.plug(UUID);
  const added = await (
    await r.engine.enqueue({
      op: "storage.add",
      params: { id: "usb1", kind: "usb", fs_uuid: UUID },
      origin: "reconcile",
      priority: "background",
    })
  ).settled;
  expect(added.state).toBe("done");

  const remove = {
    op: "storage.remove",
    params: { id: "usb1" },
    origin: "job",
    priority: "interactive",
  } as const;
  const held = await r.engine.submit({ ...remove, jobId: "job-rm-1" });
  expect(held.state).toBe("pending_signature");
  expect(r.sim.state.storage("usb1")).toBeDefined();

  signer = new GateHarness();
  signer.clock.t = Date.now();
  const refused = await (
    await r.engine.enqueue({
      ...remove,
      jobId: "job-rm-2",
      envelope: await signer.sign({
        op: "storage.remove",
        params: { id: "usb1" },
        job: "job-rm-2",
      }),
    })
  ).settled;
  expect(refused.state).toBe("failed");
  expect(refused.reason).toStartWith(
    "in_use: storage 'usb1' is still used by guest 101's backup_storage",
  );
  expect(r.sim.state.storage("usb1")).toBeDefined();

  refs.clear();
  const done = await (
    await r.engine.enqueue({
      ...remove,
      jobId: "job-rm-3",
      envelope: await signer.sign({
        op: "storage.remove",
        params: { id: "usb1" },
        job: "job-rm-3",
      }),
    })
  ).settled;
  expect(done.state).toBe("done");
  expect(r.sim.state.storage("usb1")).toBeUndefined();
  // Unmounting is not one of the three root operations: the disk stays where it was.
  expect(fs.mountedAt("/mnt/felhom/usb1")).toBe(UUID);
  const outcomes = r.store.audit
    .list()
    .filter((a) => a.action === "storage.remove")
    .map((a) => a.outcome);
  expect(outcomes).toEqual(["pending_signature", "accepted", "accepted"]);
});
