import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { ProxmoxApiError } from "../../src/proxmox/api-error.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { normalizeDescription } from "../../src/proxmox/description.ts";
import { TaskError } from "../../src/proxmox/task-error.ts";
import { ProxmoxTlsError } from "../../src/proxmox/transport-errors.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { GOLDEN_ARCHIVE } from "../../src/sim/pve/seed.ts";

// The seed's running customer CT (src/sim/pve/seed.ts).
const VMID = 101;
const WAIT = { deadlineMs: 30_000 };

let sim: PveSimulator;
let agent: ProxmoxClient;
const clientAs = (token: string, sha256 = sim.fingerprint) =>
  createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token,
    trust: { kind: "fingerprint", sha256 },
    taskPoll: { initialMs: 20, factor: 1.5, maxMs: 200 },
    retry: { attempts: 5, baseMs: 5, capMs: 20 },
  });

beforeAll(async () => {
  sim = await startPveSimulator({ taskMs: 50, authFailDelayMs: 10 });
  agent = clientAs(sim.tokens.agent);
});
afterAll(async () => {
  agent?.close();
  await sim?.stop();
});
afterEach(() => {
  sim.setFaults({});
});

describe("client against the PVE simulator over pinned TLS", () => {
  test("reads decode", async () => {
    const v = await agent.version();
    expect(v.release).toMatch(/^\d+\.\d+$/);
    const self = (await agent.nodes()).find((n) => n.node === sim.node);
    expect(self?.status).toBe("online");
    expect(self?.sslFingerprint).toBe(sim.fingerprint);
    await agent.nodeStatus();
    expect((await agent.listLXC()).map((c) => c.vmid)).toContain(VMID);
    const status = await agent.guestStatus(VMID);
    const config = await agent.guestConfig(VMID);
    // MiB in config, bytes in status (docs/proxmox-behaviour.md#units).
    expect(status.maxmemBytes).toBe((config.memoryMiB ?? 512) * 1024 * 1024);
    expect(config.digest).toBeString();
    expect((await agent.nodeStorage()).length).toBeGreaterThan(0);
    expect((await agent.listStorage()).length).toBeGreaterThan(0);
    expect(
      (await agent.storageContent("local", { content: "backup" })).map((v) => v.volid),
    ).toContain(GOLDEN_ARCHIVE);
    expect((await agent.clusterResources({ type: "vm" })).length).toBeGreaterThan(0);
    const next = await agent.nextId();
    expect(Number.isInteger(next)).toBe(true);
    expect(next).toBeGreaterThanOrEqual(100);
    expect(Object.keys(await agent.permissions()).length).toBeGreaterThan(0);
  });

  test("snapshot → rollback → delete, each waited", async () => {
    const name = "pre_deploy";
    const snap = await agent.waitTask(await agent.snapshot(VMID, name), WAIT);
    expect(snap.exitstatus).toBe("OK");
    expect((await agent.listSnapshots(VMID)).snapshots.map((s) => s.name)).toContain(name);
    await agent.waitTask(await agent.rollback(VMID, name), WAIT);
    await agent.waitTask(await agent.deleteSnapshot(VMID, name), WAIT);
    expect((await agent.listSnapshots(VMID)).snapshots.map((s) => s.name)).not.toContain(name);
    expect((await agent.listTasks({ vmid: VMID })).length).toBeGreaterThanOrEqual(3);
  });

  test("deleting a snapshot that does not exist fails in the task, not the POST", async () => {
    const upid = await agent.deleteSnapshot(VMID, "never_made");
    const err = await agent.waitTask(upid, WAIT).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.exitstatus).toContain("does not exist");
    expect(err.logTail.length).toBeGreaterThan(0);
  });

  test("restore from the golden archive, then config round trip with description newlines", async () => {
    const vmid = await agent.nextId();
    const upid = await agent.restoreLXC({
      vmid,
      archive: GOLDEN_ARCHIVE,
      storage: "local-lvm",
      unique: true,
      hostname: "customer-new",
      memoryMiB: 1024,
    });
    await agent.waitTask(upid, WAIT);
    const before = await agent.guestConfig(vmid);
    expect(before.hostname).toBe("customer-new");
    expect(before.memoryMiB).toBe(1024);
    expect(await agent.setConfig(vmid, { description: "hello", digest: before.digest })).toBeNull();
    const after = await agent.guestConfig(vmid);
    expect(normalizeDescription(after.description)).toBe("hello");
    await agent.waitTask(await agent.destroy(vmid, { purge: true }), WAIT);
    const gone = await agent.guestConfig(vmid).catch((e) => e);
    expect(gone).toBeInstanceOf(ProxmoxApiError);
    expect(gone.kind).toBe("not_found_ct");
  });

  test("a task ending WARNINGS: 1 succeeds with its warnings", async () => {
    sim.setFaults({ warn: ["vzsnapshot"] });
    const r = await agent.waitTask(await agent.snapshot(VMID, "warned"), WAIT);
    expect(r.exitstatus).toBe("WARNINGS: 1");
    expect(r.warnings.length).toBe(1);
    sim.setFaults({});
    await agent.waitTask(await agent.deleteSnapshot(VMID, "warned"), WAIT);
  });

  test("reads survive injected 596s and 500s by retrying", async () => {
    sim.setFaults({ http596: 0.3, http500: 0.2 });
    for (let i = 0; i < 10; i++) expect((await agent.version()).release).toBe("9.1");
  });

  test("a token without ACLs gets a privilege-named 403 and empty lists", async () => {
    const noacl = clientAs(sim.tokens.noacl);
    try {
      const err = await noacl.guestConfig(VMID).catch((e) => e);
      expect(err).toBeInstanceOf(ProxmoxApiError);
      expect(err.kind).toBe("forbidden");
      expect(err.permission?.aclPath).toBe(`/vms/${VMID}`);
      expect(err.permission?.privileges).toContain("VM.Audit");
      expect(await noacl.listLXC()).toEqual([]);
    } finally {
      noacl.close();
    }
  });

  test("a wrong secret is a 401", async () => {
    const tokenId = sim.tokens.agent.slice(0, sim.tokens.agent.indexOf("="));
    const bad = clientAs(`${tokenId}=00000000-0000-4000-8000-000000000000`);
    const err = await bad.version().catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect(err.kind).toBe("unauthorized");
    bad.close();
  });

  test("a wrong pin is refused before the simulator sees a request", async () => {
    const before = sim.requestCount;
    const wrong = clientAs(sim.tokens.agent, "00".repeat(32));
    const err = await wrong.version().catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxTlsError);
    expect(err.presented).toBe(sim.fingerprint);
    expect(sim.requestCount).toBe(before);
  });
});
