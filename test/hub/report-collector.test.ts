import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { statusReportSchema } from "../../src/hub/protocol.ts";
import {
  collectStatusReport,
  type ReportSources,
  type StatusReportBody,
} from "../../src/hub/report-collector.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";

const GiB = 1024 ** 3;
const NOW = Date.parse("2026-03-01T12:00:00.000Z");

let sim: PveSimulator;
const clients: ProxmoxClient[] = [];

beforeAll(async () => {
  // The 3 s delay PVE puts on every 401 (docs/proxmox-behaviour.md#api-envelope-and-errors) is not what the wrong-token case tests.
  sim = await startPveSimulator({ authFailDelayMs: 0, taskMs: 50 });
});
afterAll(async () => {
  await sim.stop();
});
afterEach(() => {
  sim.setFaults({});
  for (const c of clients.splice(0)) c.close();
});

function client(token = sim.tokens.agent, opts: { requestTimeoutMs?: number } = {}) {
  const c = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    random: () => 0,
    ...opts,
  });
  clients.push(c);
  return c;
}

function sources(proxmox: ProxmoxClient, extra: Partial<ReportSources> = {}): ReportSources {
  return { proxmox, agentVersion: "1.4.0-test", now: () => NOW, ...extra };
}

/** What the outbox sends: the body plus its sequence number, parsed as the hub would. */
function asSent(body: StatusReportBody) {
  return statusReportSchema.parse({ ...body, seq: 1 });
}

describe("status report from a healthy host", () => {
  test("agent version, node status, storage, guests, reconcile health and pending signatures", async () => {
    const r = await collectStatusReport(
      sources(client(), {
        reconcileHealth: () => ({
          lastPassAt: NOW - 30_000,
          lastPassOk: false,
          failures: 2,
          lastError: "resize 103: storage full",
        }),
        pendingSignatures: () => [
          { id: "pend-1", op: "guest.destroy", vmid: 102, jobId: "job-7", since: NOW - 60_000 },
          { id: "pend-2", op: "guest.rollback" },
        ],
      }),
    );
    expect(asSent(r)).toEqual({ ...r, seq: 1 });

    expect(r.at).toBe("2026-03-01T12:00:00.000Z");
    expect(r.agent).toEqual({ version: "1.4.0-test" });

    expect(r.host.node).toBe(sim.node);
    expect(r.host.reachable).toBe(true);
    expect(r.host.error).toBeUndefined();
    expect(r.host.pve_version).toBe("9.1.4");
    expect(r.host.uptime_s).toBeGreaterThan(0);
    expect(r.host.memory_total_bytes).toBe(64 * GiB);
    expect(r.host.memory_used_bytes).toBeGreaterThan(0);
    expect(r.host.cpu).toBeGreaterThanOrEqual(0);

    const byId = new Map(r.storage.map((s) => [s.id, s]));
    expect([...byId.keys()].sort()).toEqual(["local", "local-lvm"]);
    for (const id of ["local", "local-lvm"]) {
      const s = byId.get(id);
      expect(s?.active).toBe(true);
      expect(s?.enabled).toBe(true);
      expect(s?.total_bytes).toBe(sim.state.storage(id)?.total);
      expect((s?.used_bytes ?? 0) + (s?.avail_bytes ?? 0)).toBe(s?.total_bytes ?? -1);
      expect(s?.used_bytes).toBeGreaterThan(0);
    }
    expect(byId.get("local")?.type).toBe("dir");
    expect(byId.get("local-lvm")?.type).toBe("lvmthin");

    const guests = [...r.guests].sort((a, b) => a.vmid - b.vmid);
    expect(guests.map((g) => [g.vmid, g.name, g.status, g.cores, g.memory_mib])).toEqual([
      [101, "customer-a", "running", 2, 2048],
      [102, "customer-b", "stopped", 2, 1024],
      [103, "customer-c", "running", 2, 4096],
    ]);
    for (const g of guests) expect(g.max_disk_bytes).toBe(8 * GiB);

    expect(r.reconcile).toEqual({
      failures: 2,
      last_pass_at: "2026-03-01T11:59:30.000Z",
      last_pass_ok: false,
      last_error: "resize 103: storage full",
    });
    expect(r.pending_signatures).toEqual([
      {
        id: "pend-1",
        op: "guest.destroy",
        vmid: 102,
        job_id: "job-7",
        since: "2026-03-01T11:59:00.000Z",
      },
      { id: "pend-2", op: "guest.rollback" },
    ]);
  });

  test("without callbacks: no reconcile pass yet, no pending signatures", async () => {
    const r = await collectStatusReport(sources(client()));
    asSent(r);
    expect(r.reconcile).toEqual({ failures: 0 });
    expect(r.pending_signatures).toEqual([]);
    expect(r.guest_overrides).toEqual([]);
  });

  test("the guests' own grows the reconciler keeps", async () => {
    const r = await collectStatusReport(
      sources(client(), {
        guestOverrides: () => [
          {
            journalId: 9,
            vmid: 101,
            field: "cores",
            value: 4,
            desiredValue: 2,
            createdAt: NOW - 60_000,
            since: NOW - 50_000,
            reportedAt: null,
          },
        ],
      }),
    );
    asSent(r);
    expect(r.guest_overrides).toEqual([
      {
        vmid: 101,
        field: "cores",
        value: 4,
        desired_value: 2,
        since: new Date(NOW - 50_000).toISOString(),
      },
    ]);
  });

  test("a guest's run state as Proxmox has it now", async () => {
    const c = client();
    const upid = await c.start(102);
    await c.waitTask(upid, { deadlineMs: 10_000 });
    try {
      const r = await collectStatusReport(sources(c));
      expect(r.guests.find((g) => g.vmid === 102)?.status).toBe("running");
    } finally {
      await c.waitTask(await c.stop(102), { deadlineMs: 10_000 });
    }
  });
  test("a storage Proxmox cannot reach is reported inactive, without sizes", async () => {
    // PVE lists an unreachable storage (an NFS server down) with active 0 and no sizes
    // (docs/proxmox-behaviour.md#endpoint-summary, GET /nodes/{node}/storage); the simulator's storages are always up.
    const real = client();
    const proxmox: ProxmoxClient = {
      ...real,
      nodeStorage: async (o) => [
        ...(await real.nodeStorage(o)),
        { storage: "nfs-backup", type: "nfs", content: ["backup"], active: false, enabled: true },
      ],
    };
    const r = await collectStatusReport(sources(proxmox));
    asSent(r);
    expect(r.host.reachable).toBe(true);
    expect(r.storage.find((s) => s.id === "nfs-backup")).toEqual({
      id: "nfs-backup",
      type: "nfs",
      active: false,
      enabled: true,
    });
    expect(r.storage.find((s) => s.id === "local")?.active).toBe(true);
  });
});

describe("a broken host is reported, not silenced", () => {
  const unreachable = (r: StatusReportBody) => {
    asSent(r);
    expect(r.host.node).toBe(sim.node);
    expect(r.host.reachable).toBe(false);
    expect(r.host.pve_version).toBeUndefined();
    expect(r.storage).toEqual([]);
    expect(r.guests).toEqual([]);
    // The agent's own parts still report.
    expect(r.agent).toEqual({ version: "1.4.0-test" });
    expect(r.reconcile).toEqual({ failures: 1, last_pass_ok: false });
    expect(r.pending_signatures).toEqual([{ id: "pend-1", op: "guest.destroy", vmid: 101 }]);
  };
  const agentParts: Partial<ReportSources> = {
    reconcileHealth: () => ({ failures: 1, lastPassOk: false }),
    pendingSignatures: () => [{ id: "pend-1", op: "guest.destroy", vmid: 101 }],
  };

  test("Proxmox answering 500", async () => {
    sim.setFaults("http500=1");
    const r = await collectStatusReport(sources(client(), agentParts));
    unreachable(r);
    expect(r.host.error).toContain("500");
  });

  test("a token Proxmox does not accept; the secret is not in the report", async () => {
    const secret = "00000000-0000-4000-8000-000000000000";
    const wrong = sim.tokens.agent.replace(/=.*$/, `=${secret}`);
    const r = await collectStatusReport(sources(client(wrong), agentParts));
    unreachable(r);
    expect(r.host.error).toContain("401");
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  test("nothing listening where Proxmox should be", async () => {
    const gone = await startPveSimulator({ authFailDelayMs: 0 });
    await gone.stop();
    const c = createProxmoxClient({
      endpoint: gone.endpoint,
      node: gone.node,
      token: gone.tokens.agent,
      trust: { kind: "fingerprint", sha256: gone.fingerprint },
      random: () => 0,
      retry: { attempts: 1 },
    });
    clients.push(c);
    const r = await collectStatusReport(sources(c, agentParts));
    unreachable(r);
    expect(r.host.error).toBeString();
  });

  test("Proxmox hanging: the report goes out at its deadline, saying so", async () => {
    sim.setFaults("latency=5000");
    const r = await collectStatusReport(
      sources(client(sim.tokens.agent, { requestTimeoutMs: 4000 }), {
        ...agentParts,
        deadlineMs: 300,
      }),
    );
    unreachable(r);
    expect(r.host.error).toBe("Proxmox did not answer within 300 ms");
  });
});

describe("the agent's own sources failing", () => {
  test("a failing reconcile-health or pending-signature source still yields a valid report", async () => {
    const r = await collectStatusReport(
      sources(client(), {
        reconcileHealth: () => {
          throw new Error("health unavailable");
        },
        pendingSignatures: () => {
          throw new Error("database is locked");
        },
      }),
    );
    asSent(r);
    expect(r.host.reachable).toBe(true);
    expect(r.guests).toHaveLength(3);
    expect(r.pending_signatures).toEqual([]);
    expect(r.reconcile.failures).toBe(0);
    expect(r.reconcile.last_error).toContain("reconcile health unavailable: health unavailable");
    expect(r.reconcile.last_error).toContain("pending signatures unavailable: database is locked");
  });

  test("the reconcile error is kept next to an unreadable pending-signature list", async () => {
    const r = await collectStatusReport(
      sources(client(), {
        reconcileHealth: () => ({ failures: 3, lastError: "start 101: timeout" }),
        pendingSignatures: () => [{ id: "p", op: "guest.destroy", since: Number.NaN }],
      }),
    );
    asSent(r);
    expect(r.reconcile.failures).toBe(3);
    expect(r.reconcile.last_error).toStartWith("pending signatures unavailable: ");
    expect(r.reconcile.last_error).toEndWith("; start 101: timeout");
  });
});
