/**
 * A backup never prunes older backups (docs/proxmox-behaviour.md#vzdump-remove): PVE's vzdump
 * defaults `remove` to 1, so the agent sends `remove=0` with `prune-backups=keep-all=1`, and the
 * gate holds any backup that asks for pruning. End to end: local API → engine → real gate →
 * executor → simulator.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClassifiedAction, classify } from "../../src/gate/classify.ts";
import { ReversibilityGate } from "../../src/gate/gate.ts";
import type { Gate } from "../../src/gate/seam.ts";
import { createLocalApiApp, type LocalApiApp } from "../../src/localapi/app.ts";
import type { ProxmoxClient, VzdumpParams } from "../../src/proxmox/client-types.ts";
import { EXECUTORS } from "../../src/reconcile/executors.ts";
import { systemClock } from "../../src/util/clock.ts";
import { ed, HOST, signersAt } from "../gate/support.ts";
import { bearer, jsonBody } from "../localapi/fixture.ts";
import { Rig } from "../reconcile/support.ts";
import { simClient } from "../sim/sim-client.ts";
import { JumpClock } from "../support/jump-clock.ts";

/**
 * Real time plus an offset the test moves a second on between backups: archive names have a
 * one-second resolution, as PVE's do.
 */
const simClock = new JumpClock();

let rig: Rig;
let app: LocalApiApp;
let token101: string;
let pve: ReturnType<typeof simClient>;

beforeAll(async () => {
  let inner: ReversibilityGate | undefined;
  const gate: Gate = {
    decide: (req, ctx) => {
      if (!inner) throw new Error("gate used before the rig was ready");
      return inner.decide(req, ctx);
    },
  };
  rig = await Rig.start({ clock: simClock }, { gate });
  inner = new ReversibilityGate({
    store: rig.store,
    hostId: HOST,
    signers: signersAt(Date.now()),
    clock: systemClock,
    ed25519: ed,
  });
  token101 = rig.store.guestTokens.mint(101).token;
  app = createLocalApiApp({
    tokens: rig.store.guestTokens,
    submitter: rig.engine,
    proxmox: rig.client,
    quotas: { quotaFor: () => undefined },
    backups: { backupStorageFor: () => "local" },
    audit: rig.store.audit,
    clock: systemClock,
    limits: { rateLimit: { perMinute: 6000, burst: 1000 }, readCacheMs: 0 },
    version: "test",
  });
  pve = simClient(rig.sim);
  // The storage keeps one backup per guest: PVE's vzdump would prune to that by default.
  const put = await pve.call("PUT", "/storage/local", {
    params: { "prune-backups": "keep-last=1" },
    token: rig.sim.tokens.root,
  });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  pve?.close();
  await rig?.close();
});

function archivesOf(vmid: number): string[] {
  const local = rig.sim.state.storage("local");
  return [...(local?.volumes.values() ?? [])]
    .filter((v) => v.content === "backup" && v.vmid === vmid)
    .map((v) => v.volid)
    .sort();
}

async function settle(id: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const st = rig.engine.status(id);
    if (st && ["done", "failed", "rejected", "pending_signature"].includes(st.state)) {
      return st.state;
    }
    await Bun.sleep(10);
  }
  throw new Error(`operation ${id} did not settle`);
}

describe("backups through the local API keep every restore point", () => {
  test("with keep-last=1 on the storage, three backups succeed and leave three archives", async () => {
    expect(archivesOf(101)).toEqual([]);
    for (let i = 0; i < 3; i++) {
      simClock.jump(1000);
      const res = await app.request("/v1/self/backups", jsonBody("POST", {}, token101));
      expect(res.status).toBe(202);
      const { operation } = (await res.json()) as { operation: { id: string } };
      expect(await settle(operation.id)).toBe("done");
    }
    expect(archivesOf(101)).toHaveLength(3);
    const vzdumps = rig.sim.state.tasks().filter((t) => t.parts.type === "vzdump");
    expect(vzdumps).toHaveLength(3);
    for (const t of vzdumps) {
      expect(t.exitstatus).toBe("OK");
      expect(t.lines.some((l) => l.includes("prune"))).toBe(false);
    }
    const rows = rig.store.audit.list().filter((r) => r.action === "guest.backup");
    expect(rows.map((r) => r.outcome)).toEqual(["allowed", "allowed", "allowed"]);
  });

  test("contrast: a raw vzdump without remove prunes the same guest to one archive", async () => {
    simClock.jump(1000);
    const upid = await rig.client.vzdump({ vmid: 101, storage: "local" });
    const done = await rig.client.waitTask(upid, { deadlineMs: 10_000 });
    expect(done.exitstatus).toBe("OK");
    expect(archivesOf(101)).toHaveLength(1);
  });

  test("a guest cannot get a pruning backup past the gate", async () => {
    const before = archivesOf(101);
    const held = await rig.engine.submit({
      op: "guest.backup",
      vmid: 101,
      params: { storage: "local", remove: true },
      origin: "job",
      jobId: "job-prune",
      priority: "interactive",
    });
    expect(held.state).toBe("pending_signature");
    const retention = await rig.engine.submit({
      op: "guest.backup",
      vmid: 101,
      params: { storage: "local", pruneBackups: "keep-last=1" },
      origin: "job",
      jobId: "job-retention",
      priority: "interactive",
    });
    expect(retention.state).toBe("pending_signature");
    expect(archivesOf(101)).toEqual(before);
    // The held ones never reached Proxmox: still only the four vzdump tasks from above.
    expect(rig.sim.state.tasks().filter((t) => t.parts.type === "vzdump")).toHaveLength(4);
  });

  test("the local API's GET on an operation sees the backup's archive", async () => {
    simClock.jump(1000);
    const res = await app.request("/v1/self/backups", jsonBody("POST", {}, token101));
    const { operation } = (await res.json()) as { operation: { id: string } };
    expect(await settle(operation.id)).toBe("done");
    const op = await app.request(`/v1/self/operations/${operation.id}`, bearer(token101));
    expect(op.status).toBe(200);
    expect(archivesOf(101)).toHaveLength(2);
  });
});

describe("the gate's rule for guest.backup", () => {
  const backup = (params: Record<string, unknown>): ClassifiedAction => ({
    op: "guest.backup",
    vmid: 101,
    params,
  });
  const cases: [string, Record<string, unknown>, "benign" | "destructive", string][] = [
    ["plain", { storage: "local" }, "benign", "backup_run"],
    [
      "the safe pair restated",
      { storage: "local", remove: false, pruneBackups: "keep-all=1" },
      "benign",
      "backup_run",
    ],
    ["remove", { storage: "local", remove: true }, "destructive", "backup_prune"],
    [
      "a retention",
      { storage: "local", pruneBackups: "keep-last=3" },
      "destructive",
      "backup_prune",
    ],
    [
      "keep-all spelled another way",
      { storage: "local", pruneBackups: "keep-all=1,keep-last=0" },
      "destructive",
      "backup_prune",
    ],
  ];
  for (const [name, params, verdict, rule] of cases) {
    test(name, () => {
      expect(classify(backup(params), {})).toMatchObject({ verdict, rule });
    });
  }
});

describe("what the backup executor sends", () => {
  async function sent(raw: Record<string, unknown>): Promise<VzdumpParams> {
    const calls: VzdumpParams[] = [];
    const client = {
      vzdump: async (p: VzdumpParams) => {
        calls.push(p);
        return "UPID:pve1:00000001:00000001:00000001:vzdump:101:t@pve!a:";
      },
    } as unknown as ProxmoxClient;
    const ex = EXECUTORS["guest.backup"];
    await ex.post(client, 101, ex.parseParams(raw), new AbortController().signal);
    expect(calls).toHaveLength(1);
    return calls[0] as VzdumpParams;
  }

  test("a plain backup: remove=0 and prune-backups=keep-all=1", async () => {
    expect(await sent({ storage: "local" })).toMatchObject({
      remove: false,
      extra: { "prune-backups": "keep-all=1" },
    });
  });

  test("a signed remove without a retention prunes by the storage's own", async () => {
    const p = await sent({ storage: "local", remove: true });
    expect(p.remove).toBe(true);
    expect(p.extra?.["prune-backups"]).toBeUndefined();
  });

  test("a signed retention is sent as given", async () => {
    expect(
      await sent({ storage: "local", remove: true, pruneBackups: "keep-last=3,keep-weekly=2" }),
    ).toMatchObject({ remove: true, extra: { "prune-backups": "keep-last=3,keep-weekly=2" } });
  });

  test("a malformed retention is refused before anything is sent", async () => {
    const ex = EXECUTORS["guest.backup"];
    expect(() => ex.parseParams({ storage: "local", pruneBackups: "keep-last=3;rm" })).toThrow(
      "not a prune-backups value",
    );
  });
});
