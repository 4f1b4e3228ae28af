import { afterEach, describe, expect, test } from "bun:test";
import * as ed from "@noble/ed25519";
import { openSealed, sealToHost } from "../../src/authz/sealed-secret.ts";
import type { ReversibilityGate } from "../../src/gate/gate.ts";
import type { Logger } from "../../src/log/types.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import { ProxmoxNetworkError } from "../../src/proxmox/transport-errors.ts";
import { Engine, type StepPoint } from "../../src/reconcile/engine.ts";
import type { HostOpDeps } from "../../src/reconcile/storage-executors.ts";
import { checkTargets } from "../../src/reconcile/storage-presence.ts";
import { SimHostFs } from "../../src/sim/pve/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { signHostOp, signingGate } from "../gate/support.ts";
import { JumpClock } from "../support/jump-clock.ts";
import { Rig } from "./support.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
const CIFS_PASSWORD = "cifs-Pa55-word-never-logged";
const PBS_PASSWORD = "pbs-Pa55-word-never-logged";
const SEED = new Uint8Array(32).fill(7);
const HOST_PUBLIC = await ed.getPublicKeyAsync(SEED);
const FINGERPRINT = Array.from({ length: 32 }, () => "AB").join(":");
const MASTER = Buffer.from("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n").toString(
  "base64",
);

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** A logger that keeps every line, to grep for secrets. */
function recordingLogger(lines: string[]): Logger {
  const make = (ctx: Record<string, unknown>): Logger => {
    const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
      lines.push(JSON.stringify({ level, msg, ...ctx, ...fields }));
    };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      child: (more) => make({ ...ctx, ...more }),
    } as Logger;
  };
  return make({});
}

function hostOps(fs: SimHostFs, refs = new Map<string, string[]>()): (r: Rig) => HostOpDeps {
  return (r) => ({
    client: r.client,
    privileged: createPrivileged({ runner: fs.runner() }),
    openSecret: (s) => openSealed(s, SEED),
    storageReferences: () => refs,
  });
}

async function startRig(
  opts: { fs?: SimHostFs; refs?: Map<string, string[]>; lines?: string[]; clock?: JumpClock } = {},
) {
  const fs = opts.fs ?? new SimHostFs();
  let deps: HostOpDeps | undefined;
  let gate: ReversibilityGate | undefined;
  const r = await Rig.start(
    { hostFs: fs },
    {
      ...(opts.lines ? { logger: recordingLogger(opts.lines) } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
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
  deps = hostOps(fs, opts.refs)(r);
  r.engine = r.makeEngine();
  return { r, fs, gate: () => gate as ReversibilityGate };
}

const add = (params: Record<string, unknown>) =>
  ({ op: "storage.add", params, origin: "job", priority: "interactive" }) as const;

/** A network target is added only with an operator's signature (src/gate/README.md). */
const signedAdd = async (params: Record<string, unknown>) => ({
  ...add(params),
  envelope: await signHostOp("storage.add", params),
});

describe("storage.add executors against the simulator and a recording runner", () => {
  test("USB: mounts by UUID at /mnt/felhom/<id> with a nofail fstab entry, then POST /storage type=dir", async () => {
    const { r, fs } = await startRig();
    rig = r;
    fs.plug(UUID);
    const end = await (await r.engine.enqueue(add({ id: "usb1", kind: "usb", fs_uuid: UUID })))
      .settled;
    expect(end.state).toBe("done");
    expect(end.result).toMatchObject({ storage: "usb1", mountpoint: "/mnt/felhom/usb1" });
    expect(fs.mountedAt("/mnt/felhom/usb1")).toBe(UUID);
    expect(fs.fstab).toEqual([`UUID=${UUID} /mnt/felhom/usb1 auto nofail,nosuid,nodev,noexec 0 0`]);
    const s = r.sim.state.storage("usb1");
    expect(s).toMatchObject({ type: "dir", path: "/mnt/felhom/usb1", isMountpoint: true });
    expect(s?.content).toEqual(["backup"]);
    const mount = fs.calls.find((c) => c.cmd.endsWith("/mount"));
    expect(mount?.args).toEqual(["-o", "nosuid,nodev,noexec", `UUID=${UUID}`, "/mnt/felhom/usb1"]);
    expect(r.store.journal.recent()[0]).toMatchObject({
      op: "storage.add",
      phase: "done",
      vmid: null,
    });
    const audit = r.store.db.query("SELECT action, outcome FROM audit").all();
    expect(audit).toEqual([{ action: "storage.add", outcome: "allowed" }]);
  });

  test("USB disk not attached: the mount fails, nothing is defined in PVE", async () => {
    const { r } = await startRig();
    rig = r;
    const end = await (await r.engine.enqueue(add({ id: "usb1", kind: "usb", fs_uuid: UUID })))
      .settled;
    expect(end.state).toBe("failed");
    expect(end.reason).toStartWith("mount_failed");
    expect(r.sim.state.storage("usb1")).toBeUndefined();
  });

  test("NFS: an offline server fails the create with PVE's text; online, it is defined with vers=4.2", async () => {
    const { r, fs } = await startRig();
    rig = r;
    fs.setServerOnline("nas.lan", false);
    const target = { id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup" };
    const first = await (await r.engine.enqueue(await signedAdd(target))).settled;
    expect(first.state).toBe("failed");
    expect(first.reason).toContain("create storage failed: storage 'nas1' is not online");
    expect(r.sim.state.storage("nas1")).toBeUndefined();
    fs.setServerOnline("nas.lan", true);
    const second = await (await r.engine.enqueue(await signedAdd(target))).settled;
    expect(second.state).toBe("done");
    expect(r.sim.state.storage("nas1")).toMatchObject({
      type: "nfs",
      server: "nas.lan",
      export: "/srv/backup",
      options: "vers=4.2",
    });
  });

  test("CIFS and PBS: sealed passwords are opened only for the POST and never logged, journaled or audited", async () => {
    const lines: string[] = [];
    const { r } = await startRig({ lines });
    rig = r;
    const cifs = await (
      await r.engine.enqueue(
        await signedAdd({
          id: "smb1",
          kind: "cifs",
          server: "nas.lan",
          share: "backup",
          username: "felhom",
          password: sealToHost(CIFS_PASSWORD, HOST_PUBLIC),
        }),
      )
    ).settled;
    expect(cifs.state).toBe("done");
    expect(r.sim.state.storage("smb1")).toMatchObject({ smbversion: "3", hasPassword: true });
    const pbs = await (
      await r.engine.enqueue(
        await signedAdd({
          id: "pbs1",
          kind: "pbs",
          server: "pbs.example.net",
          datastore: "store1",
          fingerprint: FINGERPRINT,
          namespace: "cust-42",
          username: "felhom@pbs",
          password: sealToHost(PBS_PASSWORD, HOST_PUBLIC),
          master_pubkey: MASTER,
          role: "offsite",
        }),
      )
    ).settled;
    expect(pbs.state).toBe("done");
    const sim = r.sim.state.storage("pbs1");
    expect(sim).toMatchObject({ type: "pbs", namespace: "cust-42", masterPubkey: true });
    expect(pbs.result?.encryption_key_fingerprint).toBe(sim?.encryptionKeyFingerprint);
    expect(pbs.result?.key_escrow).toBe("master-pubkey");
    const report = await checkTargets({
      client: r.client,
      targets: new Map([
        ["smb1", { kind: "cifs", server: "nas.lan", share: "backup", username: "felhom" }],
      ]),
      presence: r.store.storagePresence,
    });
    const stored = [
      JSON.stringify(report),
      JSON.stringify(r.store.journal.recent()),
      JSON.stringify(r.store.db.query("SELECT * FROM audit").all()),
      lines.join("\n"),
      JSON.stringify([cifs, pbs]),
    ].join("\n");
    for (const secret of [CIFS_PASSWORD, PBS_PASSWORD, '"data"']) {
      expect(stored).not.toContain(secret);
    }
  });

  test("re-adding the same target changes nothing; another target under the same id is held", async () => {
    const { r, fs } = await startRig();
    rig = r;
    const target = { id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup" };
    expect((await (await r.engine.enqueue(await signedAdd(target))).settled).state).toBe("done");
    // Exactly the target Proxmox has: benign, nothing is sent.
    const again = await (await r.engine.enqueue(add(target))).settled;
    expect(again.state).toBe("done");
    expect(again.result).toMatchObject({ already: true });
    const moved = await r.engine.submit(add({ ...target, export: "/srv/other" }));
    expect(moved.state).toBe("pending_signature");
    expect(r.sim.state.storage("nas1")?.export).toBe("/srv/backup");
    expect(fs.calls).toEqual([]);
  });
});

test("a USB target under the same id with another disk UUID is an identity change: held, and the planner reports it", async () => {
  const { r, fs } = await startRig();
  rig = r;
  fs.plug(UUID);
  expect(
    (await (await r.engine.enqueue(add({ id: "usb1", kind: "usb", fs_uuid: UUID }))).settled).state,
  ).toBe("done");
  const other = "0b1c2d3e-4f50-4a6b-9c7d-8e9fa0b1c2d3";
  const swapped = await r.engine.submit(add({ id: "usb1", kind: "usb", fs_uuid: other }));
  expect(swapped.state).toBe("pending_signature");
  const { planStorage } = await import("../../src/reconcile/storage-pass.ts");
  const plan = planStorage(
    new Map([["usb1", { kind: "usb" as const, fs_uuid: other }]]),
    await r.client.listStorage(),
    new Map([["usb1", true]]),
    new Map([["usb1", UUID]]),
  );
  expect(plan.add).toEqual([]);
  expect(plan.skipped[0]?.why).toContain("another target");
  expect(fs.calls.filter((c) => c.cmd.endsWith("/mount")).length).toBe(1);
});

test("a password sealed to another host's key fails the add before anything is sent", async () => {
  const { r } = await startRig();
  rig = r;
  const otherHost = await ed.getPublicKeyAsync(new Uint8Array(32).fill(9));
  const before = r.sim.requestCount;
  const end = await (
    await r.engine.enqueue(
      await signedAdd({
        id: "smb1",
        kind: "cifs",
        server: "nas.lan",
        share: "backup",
        username: "felhom",
        password: sealToHost(CIFS_PASSWORD, otherHost),
      }),
    )
  ).settled;
  expect(end.state).toBe("failed");
  expect(end.reason).toBe("sealed_secret: sealed secret: does not open with this host's key");
  expect(r.sim.state.storage("smb1")).toBeUndefined();
  // Only the reads: the gate's look at GET /storage and the executor's.
  expect(r.sim.requestCount - before).toBe(2);
});

test("a lost answer to POST /storage is settled from the storage configuration, never sent again", async () => {
  const { r } = await startRig();
  rig = r;
  let posts = 0;
  const deps = hostOps(new SimHostFs())(r);
  const real = r.client;
  r.engine = new Engine({
    store: r.store,
    client: r.client,
    gate: signingGate(r.store),
    concurrency: 1,
    clock: systemClock,
    logger: r.logger,
    hostOps: {
      ...deps,
      client: {
        listStorage: (o) => real.listStorage(o),
        deleteStorage: (id, o) => real.deleteStorage(id, o),
        createStorage: async (p, o) => {
          posts++;
          await real.createStorage(p, o);
          throw new ProxmoxNetworkError(
            r.sim.endpoint,
            "POST",
            "/storage",
            "ECONNRESET",
            false,
            "connection reset",
          );
        },
      },
    },
  });
  const end = await (
    await r.engine.enqueue(
      await signedAdd({ id: "nas1", kind: "nfs", server: "nas.lan", export: "/srv/backup" }),
    )
  ).settled;
  expect(end).toMatchObject({ state: "done", reason: "answer lost: network" });
  expect(posts).toBe(1);
  expect(r.store.journal.recent()[0]).toMatchObject({ phase: "done" });
  expect(r.sim.state.storage("nas1")?.export).toBe("/srv/backup");
});

describe("a network target copies backups off the host: added only with a signature", () => {
  const evil = { id: "offsite1", kind: "nfs", server: "198.51.100.7", export: "/exfil" };
  const posts = (r: Rig) => r.sim.stats().applied["POST /storage"] ?? 0;

  test("an NFS target on an unknown server, unsigned: held, nothing reaches Proxmox, one audit row; signed: added once", async () => {
    const { r, gate } = await startRig();
    rig = r;
    const held = await r.engine.submit({ ...add(evil), jobId: "job-nfs-1" });
    expect(held.state).toBe("pending_signature");
    expect(posts(r)).toBe(0);
    expect(r.sim.state.storage("offsite1")).toBeUndefined();
    expect(r.store.journal.recent()).toEqual([]);
    const rows = r.store.audit.list().filter((a) => a.action === "storage.add");
    expect(rows.map((a) => a.outcome)).toEqual(["pending_signature"]);
    expect(JSON.parse(rows[0]?.details ?? "{}")).toMatchObject({
      rule: "storage_egress",
      reason: "backups to it would copy customer data to 198.51.100.7, off this host",
    });

    // A backup naming it copies nothing: Proxmox has no such storage.
    const backup = await (
      await r.engine.enqueue({
        op: "guest.backup",
        vmid: 102,
        params: { storage: "offsite1" },
        origin: "job",
        jobId: "job-backup-1",
        priority: "interactive",
      })
    ).settled;
    expect(backup.state).toBe("failed");
    expect(backup.reason).toContain("storage 'offsite1' does not exist");

    const released = await gate().releasePending(held.id, await signHostOp("storage.add", evil));
    expect(released.verdict.outcome).toBe("accepted");
    if (released.request === undefined) throw new Error("released without a request");
    const done = await (await r.engine.enqueue(released.request)).settled;
    expect(done.state).toBe("done");
    expect(r.sim.state.storage("offsite1")).toMatchObject({ server: "198.51.100.7" });
    expect(r.store.pending.byId(held.id)?.status).toBe("released");
    // Re-stating it changes nothing and needs no signature; nothing is sent again.
    const again = await (await r.engine.enqueue(add(evil))).settled;
    expect(again.result).toMatchObject({ already: true });
    expect(posts(r)).toBe(1);
  });

  test("CIFS and a PBS datastore with the requester's own master key: held unsigned, nothing sent", async () => {
    const { r } = await startRig();
    rig = r;
    const cifs = await r.engine.submit(
      add({
        id: "smb9",
        kind: "cifs",
        server: "files.example.org",
        share: "drop",
        username: "x",
        password: sealToHost(CIFS_PASSWORD, HOST_PUBLIC),
      }),
    );
    const pbs = await r.engine.submit(
      add({
        id: "pbs9",
        kind: "pbs",
        server: "pbs.example.org",
        datastore: "drop",
        fingerprint: FINGERPRINT,
        username: "x@pbs",
        password: sealToHost(PBS_PASSWORD, HOST_PUBLIC),
        master_pubkey: MASTER,
      }),
    );
    expect([cifs.state, pbs.state]).toEqual(["pending_signature", "pending_signature"]);
    expect(r.store.pending.list().map((p) => p.reason)).toEqual([
      "backups to it would copy customer data to files.example.org, off this host",
      "backups to it would copy customer data to pbs.example.org, off this host",
    ]);
    expect(posts(r)).toBe(0);
  });
});

describe("storage.remove", () => {
  test("unsigned, it is held and nothing is deleted", async () => {
    const { r } = await startRig();
    rig = r;
    const held = await r.engine.submit({
      op: "storage.remove",
      params: { id: "local" },
      origin: "job",
      priority: "interactive",
    });
    expect(held.state).toBe("pending_signature");
    expect(r.sim.state.storage("local")).toBeDefined();
    expect(r.store.journal.recent()).toEqual([]);
  });
});

describe("a crash at each durable step ends with exactly one storage", () => {
  const points: StepPoint[] = ["intent", "prepared", "post_returned"];
  for (const point of points) {
    test(`stopped at ${point}: recovery, then the manifest applied again`, async () => {
      const { r, fs } = await startRig({ clock: new JumpClock() });
      rig = r;
      fs.plug(UUID);
      const stuck = r.makeEngine({ at: (p) => (p === point ? new Promise(() => {}) : undefined) });
      void stuck.enqueue(add({ id: "usb1", kind: "usb", fs_uuid: UUID }));
      for (let i = 0; i < 200 && r.store.journal.recent().length === 0; i++) {
        await new Promise((res) => setTimeout(res, 10));
      }
      await new Promise((res) => setTimeout(res, 100));
      const fresh = r.makeEngine();
      const [resolved] = await fresh.resolve("recovery");
      expect(resolved?.kind).toBe(point === "post_returned" ? "done" : "abandoned");
      expect(r.store.journal.inFlight()).toEqual([]);
      // The next pass applies the manifest again; it converges on one storage and one mount.
      const end = await (await fresh.enqueue(add({ id: "usb1", kind: "usb", fs_uuid: UUID })))
        .settled;
      expect(end.state).toBe("done");
      const usb = r.sim.state.storage("usb1");
      expect(usb?.path).toBe("/mnt/felhom/usb1");
      expect(fs.fstab.length).toBe(1);
      expect(fs.calls.filter((c) => c.cmd.endsWith("/mount")).length).toBe(1);
      await fresh.stop();
    });
  }
});
