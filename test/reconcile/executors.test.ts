import { afterEach, describe, expect, test } from "bun:test";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import type { OperationRequest, OpName } from "../../src/ops/types.ts";
import { EXECUTORS, isExecOp } from "../../src/reconcile/executors.ts";
import { GOLDEN_ARCHIVE, type PveSimOptions } from "../../src/sim/pve/index.ts";
import type { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/util/clock.ts";
import { keyFromSeed, signerFor } from "../authz/support.ts";
import { Rig } from "./support.ts";

const HOST = "host-exec";
const ed = createEd25519();
const operator = await keyFromSeed(21, "operator@example");

function realGate(store: Store): ReversibilityGate {
  return new ReversibilityGate({
    store,
    hostId: HOST,
    signers: [signerFor(operator, "operator", "operational")],
    clock: systemClock,
    ed25519: ed,
  });
}

async function envelopeFor(
  op: OpName,
  vmid: number,
  params: Record<string, unknown>,
  job?: string,
) {
  const payload = buildPayload({
    op,
    host: HOST,
    guest: { vmid },
    params,
    now: Math.floor(Date.now() / 1000),
    ttlSeconds: 300,
    ...(job ? { job } : {}),
  });
  return signEnvelope(ed, operator, payload);
}

function req(
  op: OpName,
  vmid: number,
  params: Record<string, unknown>,
  over: Partial<OperationRequest> = {},
): OperationRequest {
  return { op, vmid, params, origin: "localapi", priority: "interactive", ...over };
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function start(simOpts: PveSimOptions = {}): Promise<Rig> {
  rig = await Rig.start(simOpts, { makeGate: realGate });
  return rig;
}

describe("executors against the simulator, behind the real gate", () => {
  test("every operation the local API, hub jobs and the gate name has an executor", () => {
    for (const op of [
      "guest.snapshot",
      "guest.rollback",
      "guest.snapshot.delete",
      "guest.backup",
      "guest.resize",
      "guest.destroy",
      "guest.provision",
      "guest.restore",
      "guest.config",
      "guest.shutdown",
    ]) {
      expect(isExecOp(op)).toBe(true);
    }
    // A task operation names its PVE task type (docs/proxmox-behaviour.md#upid-format), so recovery can find it.
    expect(EXECUTORS["guest.backup"].taskType).toBe("vzdump");
    expect(EXECUTORS["guest.resize"].taskType).toBe("resize");
    expect(EXECUTORS["guest.destroy"].taskType).toBe("vzdestroy");
    expect(EXECUTORS["guest.provision"].taskType).toBe("vzrestore");
  });

  test("a local-API snapshot is journaled as taken at the guest's request; that guest may delete it", async () => {
    const r = await start();
    const sub = await r.engine.enqueue(req("guest.snapshot", 101, { name: "ctl-deploy1" }));
    expect(sub.status.id).toMatch(/^op-\d+$/);
    const done = await sub.settled;
    expect(done.state).toBe("done");
    expect(done.result).toEqual({ snapshot: "ctl-deploy1" });
    expect(r.sim.state.guest(101)?.snapshots.has("ctl-deploy1")).toBe(true);
    const entry = r.store.journal.byId(Number(sub.status.id.slice(3)));
    expect(entry?.provenance).toEqual({
      v: 1,
      guest_request: true,
      created: [{ kind: "snapshot", vmid: 101, name: "ctl-deploy1" }],
    });

    const del = await r.engine.enqueue(req("guest.snapshot.delete", 101, { name: "ctl-deploy1" }));
    expect((await del.settled).state).toBe("done");
    expect(r.sim.state.guest(101)?.snapshots.has("ctl-deploy1")).toBe(false);
    // The customer's own snapshot is another matter: held for a signature, never executed.
    const held = await r.engine.submit(
      req("guest.snapshot.delete", 101, { name: "before-upgrade" }),
    );
    expect(held.state).toBe("pending_signature");
    expect(held.id).toMatch(/^po-/);
    expect(r.sim.state.guest(101)?.snapshots.has("before-upgrade")).toBe(true);
  });

  test("a signed rollback of a running guest rolls back and starts it again", async () => {
    const r = await start();
    expect(r.sim.state.guest(101)?.running).toBe(true);
    const params = { name: "before-upgrade" };
    const envelope = await envelopeFor("guest.rollback", 101, params, "job-rb");
    const sub = await r.engine.enqueue(
      req("guest.rollback", 101, params, { origin: "job", jobId: "job-rb", envelope }),
    );
    const done = await sub.settled;
    expect(done.state).toBe("done");
    expect(r.sim.state.guest(101)?.running).toBe(true);
    const rollback = r.sim.state.tasks().find((t) => t.parts.type === "vzrollback");
    expect(rollback?.parts.id).toBe("101");
    // The same envelope again is the same job (it is not run twice), not a replay error.
    const again = await r.engine.submit(
      req("guest.rollback", 101, params, { origin: "job", jobId: "job-rb", envelope }),
    );
    expect(again.id).toBe(done.id);
    expect(r.sim.state.tasks().filter((t) => t.parts.type === "vzrollback")).toHaveLength(1);
  });

  test("a backup reports the archive it wrote", async () => {
    const r = await start();
    const sub = await r.engine.enqueue(
      req("guest.backup", 102, { storage: "local", mode: "snapshot" }),
    );
    const done = await sub.settled;
    expect(done.state).toBe("done");
    const archive = done.result?.archive as string;
    expect(archive).toMatch(/^local:backup\/vzdump-lxc-102-.*\.tar$/);
    expect(r.sim.state.storage("local")?.volumes.has(archive)).toBe(true);
  });

  test("a disk grows; an absolute size is refused before anything is journaled", async () => {
    const r = await start();
    const done = await (
      await r.engine.enqueue(req("guest.resize", 102, { disk: "rootfs", size: "+1G" }))
    ).settled;
    expect(done.state).toBe("done");
    expect(String(r.sim.state.guest(102)?.config.rootfs)).toContain("size=9G");
    const before = r.store.journal.recent(100).length;
    const refused = await r.engine.submit(req("guest.resize", 102, { disk: "rootfs", size: "4G" }));
    expect(refused.state).toBe("rejected");
    expect(refused.reason).toContain("invalid_params");
    expect(r.store.journal.recent(100)).toHaveLength(before);
  });

  test("provision from the golden archive, then a destroy held until signed, then executed", async () => {
    const r = await start();
    // Until the agent knows the archive as a golden image, provisioning from it is held.
    const unknown = await r.engine.submit(
      req(
        "guest.provision",
        150,
        { archive: GOLDEN_ARCHIVE, storage: "local-lvm" },
        { origin: "job", jobId: "job-prov-0" },
      ),
    );
    expect(unknown.state).toBe("pending_signature");
    expect(r.sim.state.guest(150)).toBeUndefined();
    r.store.goldenImages.record({ volid: GOLDEN_ARCHIVE, source: "built" });
    const prov = await r.engine.enqueue(
      req(
        "guest.provision",
        150,
        { archive: GOLDEN_ARCHIVE, storage: "local-lvm", hostname: "new-customer", unique: true },
        { origin: "job", jobId: "job-prov" },
      ),
    );
    const provDone = await prov.settled;
    expect(provDone.state).toBe("done");
    expect(provDone.result).toEqual({ vmid: 150 });
    expect(r.sim.state.guest(150)).toBeDefined();
    // Sent unprivileged and with new MACs though the params did not say so.
    expect(r.sim.state.guest(150)?.config.unprivileged).toBe(1);
    const identity = r.store.guestIdentities.current(150);
    expect(identity).toBeDefined();

    const held = await r.engine.submit(
      req("guest.destroy", 150, {}, { origin: "job", jobId: "job-destroy" }),
    );
    expect(held.state).toBe("pending_signature");
    // Sent again unsigned (a hub re-poll): the same held operation, not a second one.
    const again = await r.engine.submit(
      req("guest.destroy", 150, {}, { origin: "job", jobId: "job-destroy" }),
    );
    expect(again.id).toBe(held.id);
    const pending = r.store.pending.list({ status: "pending" });
    expect(pending.filter((p) => p.op === "guest.destroy")).toHaveLength(1);

    const envelope = await envelopeFor("guest.destroy", 150, {}, "job-destroy");
    const released = await r.engine.enqueue(
      req("guest.destroy", 150, {}, { origin: "job", jobId: "job-destroy", envelope }),
    );
    const destroyed = await released.settled;
    expect(destroyed.state).toBe("done");
    expect(r.sim.state.guest(150)).toBeUndefined();
    // Its identity is retired with the destroy's success.
    expect(r.store.guestIdentities.current(150)).toBeUndefined();
    expect(r.store.guestIdentities.byUid(identity?.uid as string)?.retiredAt).not.toBeNull();
    const row = r.store.pending.byId(held.id);
    expect(row?.status).toBe("released");
    expect(`op-${row?.journalId}`).toBe(destroyed.id);
    // The held id now follows the execution.
    expect(r.engine.status(held.id)?.state).toBe("done");
  });
});

describe("durable operation ids", () => {
  test("status(id) answers from the store after a restart, with the result", async () => {
    const r = await start();
    const snap = await (await r.engine.enqueue(req("guest.snapshot", 103, { name: "ctl-keep" })))
      .settled;
    // The hub asking to roll back the guest's snapshot is held (only the guest itself may).
    const held = await r.engine.submit(
      req("guest.rollback", 103, { name: "ctl-keep" }, { origin: "job", jobId: "job-keep" }),
    );
    expect(held.state).toBe("pending_signature");
    await r.restart();
    expect(r.engine.status(snap.id)).toMatchObject({
      id: snap.id,
      op: "guest.snapshot",
      vmid: 103,
      state: "done",
      result: { snapshot: "ctl-keep" },
    });
    expect(r.engine.status(held.id)).toMatchObject({ state: "pending_signature", vmid: 103 });
    expect(r.engine.status("op-999999")).toBeUndefined();
    expect(r.engine.status("not-an-id")).toBeUndefined();
  });

  test("an operation queued when the engine stops is abandoned, never sent", async () => {
    const r = await start();
    const first = await r.engine.enqueue(req("guest.snapshot", 102, { name: "ctl-first" }));
    const second = await r.engine.enqueue(req("guest.snapshot", 102, { name: "ctl-second" }));
    await r.engine.stop();
    const s2 = await second.settled;
    expect(s2.state).toBe("failed");
    await first.settled;
    const entry = r.store.journal.byId(Number(second.status.id.slice(3)));
    expect(entry?.phase).toBe("abandoned");
    expect(r.sim.state.guest(102)?.snapshots.has("ctl-second")).toBe(false);
  });

  test("a POST whose answer was lost is found in the task list by type and guest", async () => {
    // Long enough to be still running after the search's reads (clock, task list, status).
    const r = await start({ taskMs: { default: 60, vzdump: 1000 } });
    const id = r.store.journal.recordIntent({
      vmid: 102,
      op: "guest.backup",
      params: { storage: "local" },
      origin: "localapi",
    });
    // The POST reached Proxmox, but the agent died before the UPID was journaled.
    await r.client.vzdump({ vmid: 102, storage: "local" });
    const resolved = await r.engine.resolve("recovery");
    expect(resolved).toHaveLength(1);
    expect(resolved[0]?.kind).toBe("resume_wait");
    for (let i = 0; i < 200 && r.store.journal.byId(id)?.phase !== "done"; i++) {
      await Bun.sleep(20);
    }
    const status = r.engine.status(`op-${id}`);
    expect(status?.state).toBe("done");
    expect(String(status?.result?.archive)).toContain("vzdump-lxc-102-");
  });
});

describe("golden.register, the one host-level operation the engine runs", () => {
  const register = (params: Record<string, unknown>, over: Partial<OperationRequest> = {}) => {
    const { vmid: _none, ...host } = req("golden.register", 100, params, {
      origin: "job",
      jobId: "job-golden",
      ...over,
    });
    return host;
  };

  test("unsigned it is held; with bad params refused before the gate; signed it records the image", async () => {
    const r = await start();
    const checksum = `sha256:${"ab".repeat(32)}`;
    const params = { volid: GOLDEN_ARCHIVE, checksum };
    const held = await r.engine.submit(register(params));
    expect(held.state).toBe("pending_signature");
    expect(r.store.goldenImages.byVolid(GOLDEN_ARCHIVE)).toBeUndefined();

    const bad = await r.engine.submit(register({ volid: "not a volid" }, { jobId: "job-bad" }));
    expect(bad).toMatchObject({ state: "rejected" });
    expect(bad.reason).toContain("invalid_params");

    const payload = buildPayload({
      op: "golden.register",
      host: HOST,
      params,
      job: "job-golden",
      now: Math.floor(Date.now() / 1000),
      ttlSeconds: 300,
    });
    const envelope = await signEnvelope(ed, operator, payload);
    const done = await r.engine.submit(register(params, { envelope }));
    expect(done).toMatchObject({ op: "golden.register", state: "done" });
    expect(done.result).toEqual({ golden: GOLDEN_ARCHIVE, checksum });
    const image = r.store.goldenImages.byVolid(GOLDEN_ARCHIVE);
    expect(image).toMatchObject({ source: "registered", checksum });
    // Journaled, and the held job released by it.
    const entry = r.store.journal.byId(image?.journalId as number);
    expect(entry).toMatchObject({ op: "golden.register", phase: "done", vmid: null });
    expect(r.store.pending.byId(held.id)?.status).toBe("released");
    // The same job again answers with its operation; the envelope under another job is refused.
    const same = await r.engine.submit(register(params, { envelope }));
    expect(same.id).toBe(done.id);
    const other = await r.engine.submit(register(params, { envelope, jobId: "job-golden-2" }));
    expect(other).toMatchObject({ state: "rejected", reason: "binding_mismatch" });
    expect(r.store.journal.recent(100).filter((e) => e.op === "golden.register")).toHaveLength(1);
  });
});

describe("grows against the guest's max_disk_gib", () => {
  test("the engine reads the disk's size from its config; within the bound it runs, past it it waits", async () => {
    const r = await start();
    // Seeded guests have an 8 GiB rootfs.
    r.store.desired.put({
      document: JSON.stringify({ version: 1, guests: { "101": { max_disk_gib: 10 } } }),
      source: "hub",
    });
    const grow = (size: string, jobId: string, disk = "rootfs") =>
      r.engine.enqueue(req("guest.resize", 101, { disk, size }, { origin: "job", jobId }));
    const over = await grow("+2049M", "job-over");
    expect(over.status.state).toBe("pending_signature");
    const within = await (await grow("+2G", "job-within")).settled;
    expect(within.state).toBe("done");
    expect(r.sim.state.guest(101)?.config.rootfs).toContain("size=10G");
    // At the bound now: one more byte waits, and so does any grow of a disk whose size is unknown.
    expect((await grow("+1", "job-byte")).status.state).toBe("pending_signature");
    expect((await grow("+1G", "job-mp9", "mp9")).status.state).toBe("pending_signature");
    const resizes = r.sim.state.tasks().filter((t) => t.parts.type === "resize");
    expect(resizes).toHaveLength(1);
  });
});
