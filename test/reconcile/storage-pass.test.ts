import { afterEach, describe, expect, test } from "bun:test";
import type { ReversibilityGate } from "../../src/gate/gate.ts";
import { statusReportSchema } from "../../src/hub/protocol.ts";
import { collectStatusReport } from "../../src/hub/report-collector.ts";
import type { OperationStatus, OpName } from "../../src/ops/types.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import { parseDesiredDocument } from "../../src/reconcile/desired-state.ts";
import { Reconciler } from "../../src/reconcile/reconciler.ts";
import { actionRetry } from "../../src/reconcile/retry-book.ts";
import type { HostOpDeps } from "../../src/reconcile/storage-executors.ts";
import { checkTargets } from "../../src/reconcile/storage-presence.ts";
import { SimHostFs } from "../../src/sim/pve/index.ts";
import { signHostOp, signingGate } from "../gate/support.ts";
import { Rig } from "./support.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
const MANIFEST = {
  version: 1,
  guests: {},
  storage_targets: {
    usb1: { kind: "usb", fs_uuid: UUID, class: "slow", role: "local" },
    nas1: { kind: "nfs", server: "nas.lan", export: "/srv/backup", class: "slow", role: "local" },
  },
};

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function start(fs: SimHostFs, recordPresence = false) {
  let deps: HostOpDeps | undefined;
  let gate: ReversibilityGate | undefined;
  const r = await Rig.start(
    { hostFs: fs },
    {
      makeGate: (store) => {
        gate = signingGate(store);
        return gate;
      },
      engine: {
        get hostOps() {
          return deps;
        },
      } as never,
    },
  );
  deps = {
    client: r.client,
    privileged: createPrivileged({ runner: fs.runner() }),
    openSecret: () => {
      throw new Error("no sealed secrets in this manifest");
    },
    storageReferences: () => new Map(),
  };
  r.engine = r.makeEngine();
  const reconciler = () =>
    new Reconciler({
      engine: r.engine,
      client: r.client,
      desired: r.desired,
      clock: r.clock,
      logger: r.logger,
      readConcurrency: 4,
      retry: { ...actionRetry(3), baseMs: 0 },
      storage: {
        client: r.client,
        mounts: fs.probe(),
        ...(recordPresence ? { presence: r.store.storagePresence } : {}),
      },
    });
  /**
   * The operator's side of `felhom-agent pending approve`: each held storage.add signed exactly
   * as it is held, released through the gate and run by the engine.
   */
  const approveHeld = async (): Promise<OperationStatus[]> => {
    const out: OperationStatus[] = [];
    for (const row of r.store.pending.list({ status: "pending" })) {
      const envelope = await signHostOp(row.op as OpName, row.params as Record<string, unknown>);
      const released = await (gate as ReversibilityGate).releasePending(row.id, envelope);
      expect(released.verdict.outcome).toBe("accepted");
      if (released.request === undefined) throw new Error("released without a request");
      out.push(await (await r.engine.enqueue(released.request)).settled);
    }
    return out;
  };
  /** The manifest applied, and the network target it holds approved by the operator. */
  const attachBoth = async () => {
    await reconciler().runPass();
    return approveHeld();
  };
  return { r, reconciler, approveHeld, attachBoth };
}

const postsOf = (r: Rig) => r.sim.stats().applied["POST /storage"] ?? 0;

describe("backup targets reconciled from the manifest", () => {
  test("the manifest attaches a USB target; its NFS target waits for a signature, then is added once; applying it again changes nothing", async () => {
    const fs = new SimHostFs();
    fs.plug(UUID);
    const { r, reconciler, approveHeld } = await start(fs);
    rig = r;
    r.setDesired(MANIFEST);
    const first = await reconciler().runPass();
    expect(first.storage?.results.map((s) => [s.op, s.state])).toEqual([
      ["storage.add", "done"],
      ["storage.add", "pending_signature"],
    ]);
    expect(r.sim.state.storage("usb1")?.path).toBe("/mnt/felhom/usb1");
    // The NFS server is named by the manifest: nothing reached Proxmox for it.
    expect(r.sim.state.storage("nas1")).toBeUndefined();
    expect(postsOf(r)).toBe(1);
    const held = r.store.pending.list({ status: "pending" });
    expect(held.map((p) => [p.op, (p.params as { id: string }).id])).toEqual([
      ["storage.add", "nas1"],
    ]);
    expect(held[0]?.reason).toBe(
      "backups to it would copy customer data to nas.lan, off this host",
    );
    // The next pass finds it held and does not ask again: one held row, one audit row.
    const again = await reconciler().runPass();
    expect(again.storage?.results).toEqual([]);
    expect(again.storage?.plan.skipped).toEqual([
      { id: "nas1", why: `held for an operator's signature as ${held[0]?.id}` },
    ]);
    expect(r.store.pending.list()).toHaveLength(1);
    const addRows = () =>
      r.store.audit
        .list()
        .filter((a) => a.action === "storage.add")
        .map((a) => [JSON.parse(a.details).rule, a.outcome]);
    expect(addRows()).toEqual([
      ["storage_add", "allowed"],
      ["storage_egress", "pending_signature"],
    ]);
    const approved = await approveHeld();
    expect(approved.map((s) => s.state)).toEqual(["done"]);
    expect(r.sim.state.storage("nas1")?.server).toBe("nas.lan");
    expect(postsOf(r)).toBe(2);
    const requests = r.sim.requestCount;
    const calls = fs.calls.length;
    const settled = await reconciler().runPass();
    expect(settled.storage?.plan).toEqual({ add: [], skipped: [] });
    expect(settled.storage?.results).toEqual([]);
    expect(fs.calls.length).toBe(calls);
    expect(postsOf(r)).toBe(2);
    // Only reads: GET /nodes/{node}/lxc and GET /storage.
    expect(r.store.journal.recent().filter((e) => e.op === "storage.add")).toHaveLength(2);
    expect(r.sim.requestCount - requests).toBeLessThan(5);
  });

  test("a USB disk that is not attached is not added, and reported with an actionable reason", async () => {
    const fs = new SimHostFs();
    const { r, reconciler } = await start(fs);
    rig = r;
    r.setDesired({ ...MANIFEST, storage_targets: { usb1: MANIFEST.storage_targets.usb1 } });
    const pass = await reconciler().runPass();
    expect(pass.storage?.plan.skipped).toEqual([
      { id: "usb1", why: `USB disk ${UUID} not attached` },
    ]);
    expect(fs.calls).toEqual([]);
  });

  test("unplugging the USB disk and taking the NFS server down: one audit row per transition, back again one each", async () => {
    const fs = new SimHostFs();
    fs.plug(UUID);
    const { r, attachBoth } = await start(fs);
    rig = r;
    r.setDesired(MANIFEST);
    await attachBoth();
    const targets = parseDesiredDocument(MANIFEST, "test").storageTargets;
    const look = () =>
      checkTargets({
        client: r.client,
        mounts: fs.probe(),
        targets,
        presence: r.store.storagePresence,
      });
    const ok = await look();
    expect(ok.map((t) => [t.id, t.present, t.active, t.reason])).toEqual([
      ["local", true, true, "not in the desired state's storage_targets; left alone"],
      ["nas1", true, true, null],
      ["usb1", true, true, null],
    ]);
    expect(ok.find((t) => t.id === "usb1")?.avail_pct).toBeGreaterThan(0);
    fs.unplug(UUID);
    fs.setServerOnline("nas.lan", false);
    const gone = await look();
    await look();
    expect(gone.find((t) => t.id === "usb1")).toMatchObject({
      managed: true,
      present: false,
      active: false,
      avail_pct: null,
      reason: `USB disk ${UUID} not attached`,
    });
    expect(gone.find((t) => t.id === "nas1")?.reason).toBe("NFS server nas.lan not online");
    fs.plug(UUID);
    fs.remountFromFstab();
    fs.setServerOnline("nas.lan", true);
    const back = await look();
    expect(back.filter((t) => t.managed).every((t) => t.present && t.active)).toBe(true);
    const rows = r.store.audit
      .list()
      .filter((a) => a.action === "storage.presence")
      .map((a) => [a.target, a.outcome]);
    expect(rows).toEqual([
      ["storage:usb1", "missing"],
      ["storage:nas1", "missing"],
      ["storage:usb1", "back"],
      ["storage:nas1", "back"],
    ]);
  });
});

test("the status report carries storage_targets in the hub contract's shape", async () => {
  const fs = new SimHostFs();
  fs.plug(UUID);
  const { r, attachBoth } = await start(fs);
  rig = r;
  r.setDesired(MANIFEST);
  await attachBoth();
  fs.unplug(UUID);
  const targets = parseDesiredDocument(MANIFEST, "test").storageTargets;
  const body = await collectStatusReport({
    proxmox: r.client,
    agentVersion: "test",
    now: () => Date.now(),
    storageTargets: (signal) =>
      checkTargets({
        client: r.client,
        mounts: fs.probe(),
        targets,
        presence: r.store.storagePresence,
        signal,
      }),
  });
  const report = statusReportSchema.parse({ ...body, seq: 1 });
  expect(report.storage_targets?.find((t) => t.id === "usb1")).toMatchObject({
    managed: true,
    present: false,
    reason: `USB disk ${UUID} not attached`,
  });
  expect(report.storage_targets?.find((t) => t.id === "nas1")).toMatchObject({ present: true });
});

test("on a host that is not enrolled, each pass records presence: a pulled disk is one audit row", async () => {
  const fs = new SimHostFs();
  fs.plug(UUID);
  const { r, reconciler, attachBoth } = await start(fs, true);
  rig = r;
  r.setDesired(MANIFEST);
  await attachBoth();
  await reconciler().runPass();
  fs.unplug(UUID);
  await reconciler().runPass();
  await reconciler().runPass();
  const rows = r.store.audit
    .list()
    .filter((a) => a.action === "storage.presence")
    .map((a) => [a.target, a.outcome]);
  // The NFS target is missing while its add waits for the operator's signature, back once
  // approved; then the pulled disk is one row however many passes see it.
  expect(rows).toEqual([
    ["storage:nas1", "missing"],
    ["storage:nas1", "back"],
    ["storage:usb1", "missing"],
  ]);
  expect(r.store.storagePresence.get("usb1")).toMatchObject({ present: false });
});
