import { afterEach, expect, test } from "bun:test";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import type { Gate } from "../../src/gate/seam.ts";
import { systemClock } from "../../src/util/clock.ts";
import { Rig } from "../reconcile/support.ts";
import { alice, ed, GateHarness, HOST, rescue, signersAt } from "./support.ts";

// The real gate in front of the reconcile engine, against the Proxmox simulator.

let rig: Rig | undefined;
let signer: GateHarness | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
  signer?.cleanup();
  signer = undefined;
});

async function start(): Promise<Rig> {
  let inner: ReversibilityGate | undefined;
  const gate: Gate = {
    decide: (req, ctx) => {
      if (!inner) throw new Error("gate used before the rig was ready");
      return inner.decide(req, ctx);
    },
  };
  const r = await Rig.start({}, { gate });
  inner = new ReversibilityGate({
    store: r.store,
    hostId: HOST,
    signers: signersAt(Date.now()),
    clock: systemClock,
    ed25519: ed,
  });
  return r;
}

test("benign runs through the engine; the audit row says allowed", async () => {
  rig = await start();
  const sub = await rig.engine.enqueue({
    op: "guest.start",
    vmid: 102,
    params: {},
    origin: "localapi",
    priority: "interactive",
  });
  expect((await sub.settled).state).toBe("done");
  const [row] = rig.store.audit.list();
  expect(row).toMatchObject({ actor: "guest:102", action: "guest.start", outcome: "allowed" });
});

test("unsigned destroy is held and badly signed destroy is refused; neither reaches Proxmox", async () => {
  rig = await start();
  signer = new GateHarness();
  signer.clock.t = Date.now();
  const before = rig.sim.requestCount;
  const held = await rig.engine.submit({
    op: "guest.destroy",
    vmid: 101,
    params: {},
    origin: "job",
    jobId: "job-1",
    priority: "interactive",
  });
  expect(held.state).toBe("pending_signature");
  expect(rig.store.pending.byId(held.id)?.status).toBe("pending");
  const refused = await rig.engine.submit({
    op: "guest.destroy",
    vmid: 101,
    params: {},
    origin: "job",
    jobId: "job-2",
    envelope: await signer.sign({ key: rescue, job: "job-2" }),
    priority: "interactive",
  });
  expect(refused).toMatchObject({ state: "rejected", reason: "role_denied" });
  const misbound = await rig.engine.submit({
    op: "guest.destroy",
    vmid: 102,
    params: {},
    origin: "job",
    jobId: "job-3",
    envelope: await signer.sign({ key: alice, vmid: 101, job: "job-3" }),
    priority: "interactive",
  });
  expect(misbound).toMatchObject({ state: "rejected", reason: "binding_mismatch" });
  expect(rig.sim.requestCount).toBe(before);
  expect(rig.store.journal.recent()).toEqual([]);
  expect(rig.store.audit.list().map((r) => r.outcome)).toEqual([
    "pending_signature",
    "rejected:role_denied",
    "rejected:binding_mismatch",
  ]);
  expect(rig.store.audit.verifyChain().ok).toBe(true);
});

test("a host-level operation this agent cannot run is refused before the gate, signed or not", async () => {
  rig = await start();
  signer = new GateHarness();
  signer.clock.t = Date.now();
  const before = rig.sim.requestCount;
  const unsigned = await rig.engine.submit({
    op: "storage.remove",
    params: { storage: "usb1" },
    origin: "operator",
    priority: "interactive",
  });
  // Not held: a signature could never make it run here.
  expect(unsigned).toMatchObject({
    state: "rejected",
    reason: "unsupported_operation: storage.remove",
  });
  const envelope = await signer.sign({ op: "storage.remove", params: { storage: "usb1" } });
  const signed = await rig.engine.submit({
    op: "storage.remove",
    params: { storage: "usb1" },
    origin: "operator",
    envelope,
    priority: "interactive",
  });
  expect(signed).toMatchObject({
    state: "rejected",
    reason: "unsupported_operation: storage.remove",
  });
  expect(signed.vmid).toBeUndefined();
  expect(rig.sim.requestCount).toBe(before);
  expect(rig.store.journal.recent()).toEqual([]);
  // Never journaled, so its nonce was not consumed either.
  const nonce = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")).nonce;
  expect(rig.store.nonces.isConsumed(nonce)).toBe(false);
  // Audited as refused; never recorded as accepted.
  expect(rig.store.audit.list().map((r) => [r.action, r.target, r.outcome])).toEqual([
    ["storage.remove", null, "rejected:unsupported_operation"],
    ["storage.remove", null, "rejected:unsupported_operation"],
  ]);
  expect(rig.store.pending.list()).toEqual([]);
});
