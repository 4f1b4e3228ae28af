/**
 * Proxmox client figures: TCP connections per 100 requests (through a counting proxy) and
 * task-wait detection latency and polls for tasks of 0.2 s, 2 s and 20 s, against the PVE
 * simulator (or, with --fixture, a bare fixture that serves time-based tasks).
 * Detection latency = when waitTask returned − when the task was due to end (the simulator's
 * end is measured from the POST's return, so it slightly overstates the latency).
 * Run: bun bench/proxmox-client.ts [--fixture]
 */
import { createProxmoxClient } from "../src/proxmox/client.ts";
import type { TlsTrust } from "../src/proxmox/tls-trust.ts";
import { startPveSimulator } from "../src/sim/pve/index.ts";
import { startCountingProxy } from "../test/proxmox/support/counting-proxy.ts";
import { notFound, ok, startFixtureServer } from "../test/proxmox/support/fixture-server.ts";
import { makeUpid } from "../test/proxmox/support/task-script.ts";

const TOKEN = "bench@pve!bench=00000000-0000-4000-8000-000000000000";
const DURATIONS_MS = [200, 2000, 20_000];

interface Target {
  url: string;
  port: number;
  fingerprint: string;
  caPem: string;
  token: string;
  /** Starts a task of about `ms` and returns its UPID plus when it will end (epoch ms). */
  startTask(ms: number): Promise<{ upid: string; endsAt?: number }>;
  stop(): Promise<void>;
}

async function fixtureTarget(): Promise<Target> {
  const tasks = new Map<string, number>();
  let seq = 0;
  const server = await startFixtureServer({
    handler: (req) => {
      if (req.path === "/version")
        return ok({ version: "9.1.4", release: "9.1", repoid: "0123abcd" });
      const m = /^\/nodes\/pve\/tasks\/([^/]+)\/status$/.exec(req.path);
      if (m) {
        const upid = decodeURIComponent(m[1] as string);
        const end = tasks.get(upid) ?? 0;
        const done = Date.now() >= end;
        const [, node, , , , type, id, user] = upid.split(":");
        return ok({
          upid,
          node,
          pid: 1,
          pstart: 1,
          starttime: 1,
          type,
          id,
          user,
          status: done ? "stopped" : "running",
          ...(done ? { exitstatus: "OK" } : {}),
        });
      }
      return notFound(req);
    },
  });
  return {
    url: server.url,
    port: server.port,
    fingerprint: server.fingerprint,
    caPem: server.cert.cert,
    token: TOKEN,
    startTask: async (ms) => {
      const upid = makeUpid(
        "vzsnapshot",
        String(100 + seq++),
        "bench@pve!bench",
        1_700_000_000 + seq,
      );
      const endsAt = Date.now() + ms;
      tasks.set(upid, endsAt);
      return { upid, endsAt };
    },
    stop: () => server.stop(),
  };
}

/** The simulator, with one task type per measured duration on three seeded CTs. */
async function simulatorTarget(): Promise<Target> {
  const plan: Record<number, { type: string; vmid: number }> = {
    200: { type: "vzsnapshot", vmid: 101 },
    2000: { type: "vzstart", vmid: 102 },
    20000: { type: "vzdump", vmid: 103 },
  };
  const taskMs: Record<string, number> = { default: 200 };
  for (const [ms, p] of Object.entries(plan)) taskMs[p.type] = Number(ms);
  const sim = await startPveSimulator({ taskMs });
  const url = new URL(sim.endpoint);
  const admin = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
  });
  return {
    url: sim.endpoint,
    port: Number(url.port),
    fingerprint: sim.fingerprint,
    caPem: sim.certPem,
    token: sim.tokens.agent,
    startTask: async (ms) => {
      const p = plan[ms];
      if (!p) throw new Error(`no task planned for ${ms} ms`);
      const upid =
        p.type === "vzsnapshot"
          ? await admin.snapshot(p.vmid, "bench")
          : p.type === "vzstart"
            ? await admin.start(p.vmid)
            : await admin.vzdump({ vmid: p.vmid, storage: "local", mode: "snapshot" });
      return { upid, endsAt: Date.now() + ms };
    },
    stop: async () => {
      admin.close();
      await sim.stop();
    },
  };
}

async function connectionsPer100(target: Target, trust: TlsTrust): Promise<number> {
  const proxy = await startCountingProxy(target.port);
  try {
    const c = createProxmoxClient({ endpoint: proxy.url, node: "pve", token: target.token, trust });
    for (let i = 0; i < 100; i++) await c.version();
    c.close();
    return proxy.connections();
  } finally {
    await proxy.stop();
  }
}

async function main() {
  const useFixture = process.argv.includes("--fixture");
  const target = useFixture ? await fixtureTarget() : await simulatorTarget();
  try {
    console.log(`target: ${useFixture ? "local fixture" : "PVE simulator"} ${target.url}`);
    const pinned = await connectionsPer100(target, {
      kind: "fingerprint",
      sha256: target.fingerprint,
    });
    const ca = await connectionsPer100(target, { kind: "ca", caPem: target.caPem });
    console.log(
      `connections per 100 requests: fingerprint pin ${pinned} (1 is the probe), ca ${ca}`,
    );

    const client = createProxmoxClient({
      endpoint: target.url,
      node: "pve",
      token: target.token,
      trust: { kind: "fingerprint", sha256: target.fingerprint },
    });
    const rows = await Promise.all(
      DURATIONS_MS.map(async (ms) => {
        const { upid, endsAt } = await target.startTask(ms);
        const r = await client.waitTask(upid, { deadlineMs: ms + 30_000 });
        const latency = endsAt === undefined ? undefined : Date.now() - endsAt;
        return { ms, polls: r.polls, durationMs: r.durationMs, latency };
      }),
    );
    client.close();
    console.log("task length | polls | waited ms | detection latency ms");
    for (const r of rows) {
      console.log(
        `${String(r.ms / 1000).padStart(8)} s | ${String(r.polls).padStart(5)} | ${String(Math.round(r.durationMs)).padStart(9)} | ${r.latency ?? "n/a"}`,
      );
    }
  } finally {
    await target.stop();
  }
}

await main();
