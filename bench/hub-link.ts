/**
 * Hub link figures against the hub simulator, each measured by its own host enrolled into a temp
 * dir (the hub keys reports by host and seq, and each store counts from 1):
 * - an idle poll cycle (desired state and jobs both answered 304): bytes on the wire (TLS
 *   included, through a counting TCP pass-through) and ms per cycle, median and p90;
 * - 1,000 status reports queued in the outbox during an outage, delivered after the hub returns:
 *   the drain itself (cycles back to back), and end to end with the link's own loop, where the
 *   back-off wait comes first (worst case: the hub returns just after a failed attempt; with the
 *   default cap of 300 s that wait dominates, the drain does not change);
 * - request signing (signing input + ed25519) per request, for an empty GET and a full report POST.
 * The reports are real ones, collected from the PVE simulator.
 * Run: bun bench/hub-link.ts [--cycles 500] [--reports 1000]
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createEd25519 } from "../src/authz/ed25519.ts";
import type { HubConfig } from "../src/hub/config-section.ts";
import { createHubLink } from "../src/hub/create-link.ts";
import { enrollHost } from "../src/hub/enroll.ts";
import type { HubIdentity } from "../src/hub/identity.ts";
import type { HubLink } from "../src/hub/link.ts";
import { OUTBOX_KIND_TELEMETRY } from "../src/hub/ports.ts";
import { HUB_PATHS, hostPath, type StatusReport } from "../src/hub/protocol.ts";
import { collectStatusReport, type StatusReportBody } from "../src/hub/report-collector.ts";
import { newNonce, signRequest } from "../src/hub/request-signing.ts";
import { acceptExactly } from "../src/hub/signer-acceptance.ts";
import { silentLogger } from "../src/log/types.ts";
import { createProxmoxClient } from "../src/proxmox/client.ts";
import { type HubSimulator, startHubSimulator } from "../src/sim/hub/index.ts";
import { startPveSimulator } from "../src/sim/pve/index.ts";
import { openStore } from "../src/store/open.ts";
import type { Store } from "../src/store/store.ts";
import { systemClock } from "../src/util/clock.ts";
import { FakeSubmitter } from "../test/hub/fake-submitter.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { cycles: { type: "string" }, reports: { type: "string" } },
});
const CYCLES = Number(values.cycles ?? 500);
const REPORTS = Number(values.reports ?? 1000);
for (const [name, n] of [
  ["--cycles", CYCLES],
  ["--reports", REPORTS],
] as const) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
}
const WARMUP = 20;
const SIGN_ROUNDS = 2000;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}
const fmt = (n: number, digits = 2) => n.toFixed(digits);

/** A TCP pass-through counting bytes each way; TLS stays end to end, so the pin still holds. */
async function startByteCounter(targetPort: number) {
  let up = 0;
  let down = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) sockets.add(s);
    client.on("data", (d: Buffer) => {
      up += d.length;
    });
    upstream.on("data", (d: Buffer) => {
      down += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      for (const s of [client, upstream]) {
        s.destroy();
        sockets.delete(s);
      }
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    counts: () => ({ up, down, connections }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Agent {
  link: HubLink;
  store: Store;
  close(): void;
}

async function openAgent(
  hub: { url: string },
  identity: HubIdentity,
  dir: string,
  collectReport: () => Promise<StatusReportBody>,
  timing: Pick<HubConfig, "poll_interval_s" | "backoff_max_s">,
): Promise<Agent> {
  const store = openStore({ path: join(dir, "state.db") });
  const config: HubConfig = {
    url: hub.url,
    ...timing,
    // No jitter, so the end-to-end figure shows the back-off schedule as configured.
    jitter_pct: 0,
    // One report at the first cycle, then none: every later cycle is a bare poll.
    report_interval_s: 86_400,
    request_timeout_s: 5,
    audit_retention_days: 365,
  };
  const { link, close } = await createHubLink({
    identity,
    config,
    stateDir: dir,
    store,
    submitter: new FakeSubmitter(),
    collectReport,
    clock: systemClock,
    logger: silentLogger,
  });
  return {
    link,
    store,
    close() {
      close();
      store.close();
    },
  };
}

async function idlePoll(agent: Agent, counter: Awaited<ReturnType<typeof startByteCounter>>) {
  for (let i = 0; i < WARMUP; i++) await agent.link.cycle();
  const bytes: number[] = [];
  const up: number[] = [];
  const ms: number[] = [];
  const before = counter.counts();
  for (let i = 0; i < CYCLES; i++) {
    const c0 = counter.counts();
    const t0 = performance.now();
    const r = await agent.link.cycle();
    const t1 = performance.now();
    // The pass-through forwards asynchronously; let the last records land in the count.
    await Bun.sleep(0);
    const c1 = counter.counts();
    if (!r.reachable || r.desiredChanged || r.jobsSeen !== 0)
      throw new Error("an idle cycle was expected to be two 304s");
    ms.push(t1 - t0);
    up.push(c1.up - c0.up);
    bytes.push(c1.up - c0.up + (c1.down - c0.down));
  }
  const after = counter.counts();
  return { bytes, up, ms, newConnections: after.connections - before.connections };
}

async function drain(
  hub: HubSimulator,
  agent: Agent,
  identity: HubIdentity,
  body: StatusReportBody,
  mode: "cycles" | "loop",
) {
  const reportsPath = hostPath(HUB_PATHS.reports, identity.host_id);
  const recorded = () => hub.state.reports.filter((r) => r.hostId === identity.host_id).length;
  const base = recorded();
  await hub.down();
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  if (mode === "loop") {
    running = agent.link.run(abort.signal);
    // Long enough for the back-off to reach its cap, as after any real outage.
    await Bun.sleep(4_000);
  } else {
    const r = await agent.link.cycle();
    if (r.reachable) throw new Error("the hub was expected to be down");
  }
  for (let i = 0; i < REPORTS; i++) agent.store.outbox.enqueue(OUTBOX_KIND_TELEMETRY, body);
  // Includes the report the first cycle queued while the hub was already down.
  const queued = agent.store.outbox.size();
  let failures = agent.link.status().consecutiveFailures;
  if (mode === "loop") {
    // The hub returns just after a failed attempt: the whole back-off wait comes first.
    while (agent.link.status().consecutiveFailures === failures) await Bun.sleep(1);
    failures = agent.link.status().consecutiveFailures;
  }
  const firstReq = hub.requests.length;
  await hub.up();
  const t0 = performance.now();
  let cycles = 0;
  let firstAt: number | undefined;
  if (mode === "cycles") {
    while (agent.store.outbox.size() > 0) {
      const r = await agent.link.cycle();
      cycles++;
      if (!r.reachable) throw new Error("the hub did not come back");
    }
  } else {
    while (recorded() - base < queued) {
      if (firstAt === undefined && recorded() > base) firstAt = performance.now() - t0;
      if (performance.now() - t0 > 60_000) throw new Error("reports not delivered within 60 s");
      await Bun.sleep(1);
    }
    firstAt ??= performance.now() - t0;
    abort.abort();
    await running;
  }
  const elapsed = performance.now() - t0;
  const got = hub.state.reports.filter((r) => r.hostId === identity.host_id).slice(base);
  const inOrder = got.every((r, i) => i === 0 || (got[i - 1] as StatusReport).seq < r.seq);
  const posts = hub.requests
    .slice(firstReq)
    .filter((r) => r.method === "POST" && r.path === reportsPath).length;
  return { elapsed, cycles, posts, queued, delivered: got.length, inOrder, failures, firstAt };
}

async function signing(identity: HubIdentity, body: StatusReportBody) {
  const ed = createEd25519();
  const seed = new Uint8Array(Buffer.from(identity.host_key.seed, "base64"));
  const batch = {
    reports: Array.from({ length: 50 }, (_, i) => ({ ...body, seq: i + 1 })),
    audit: [],
  };
  const cases = [
    { label: "GET, empty body", method: "GET", body: new Uint8Array() },
    {
      label: "POST, 50 reports",
      method: "POST",
      body: new TextEncoder().encode(JSON.stringify(batch)),
    },
  ];
  const out = [];
  for (const c of cases) {
    const parts = (nonce: string) => ({
      method: c.method,
      pathAndQuery: hostPath(HUB_PATHS.reports, identity.host_id),
      hostId: identity.host_id,
      timestamp: Math.floor(Date.now() / 1000),
      nonce,
      body: c.body,
    });
    for (let i = 0; i < 100; i++) await signRequest(ed, seed, parts(newNonce()));
    const us: number[] = [];
    let headers: Record<string, string> = {};
    for (let i = 0; i < SIGN_ROUNDS; i++) {
      const t0 = performance.now();
      headers = await signRequest(ed, seed, parts(newNonce()));
      us.push((performance.now() - t0) * 1000);
    }
    const headerBytes = Object.entries(headers).reduce(
      (n, [k, v]) => n + k.length + 2 + v.length + 2,
      0,
    );
    out.push({ label: c.label, bodyBytes: c.body.length, us, headerBytes });
  }
  return out;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "felhom-hub-bench-"));
  const hub = await startHubSimulator();
  const pve = await startPveSimulator();
  const proxmox = createProxmoxClient({
    endpoint: pve.endpoint,
    node: pve.node,
    token: pve.tokens.agent,
    trust: { kind: "fingerprint", sha256: pve.fingerprint },
  });
  const counter = await startByteCounter(Number(new URL(hub.url).port));
  const agents: Agent[] = [];
  try {
    const enroll = (name: string) =>
      enrollHost({
        hubUrl: hub.url,
        code: hub.issueCode(),
        force: false,
        identityPath: join(dir, `${name}-identity.json`),
        trust: { kind: "fingerprint", sha256: hub.fingerprint },
        pin: { fingerprint: hub.fingerprint },
        agentVersion: "0.0.0-bench",
        clock: systemClock,
        logger: silentLogger,
        acceptSigners: acceptExactly([]),
      });
    hub.setDesired({
      version: 1,
      guests: { "101": { run: "running", cores: 2, memory_mib: 2048 } },
    });
    const collect = () =>
      collectStatusReport({ proxmox, agentVersion: "0.0.0-bench", now: () => Date.now() });
    const body = await collect();
    console.log(
      `hub simulator ${hub.url}; one report is ${JSON.stringify(body).length} bytes of JSON (PVE simulator, 3 guests, 2 storages)`,
    );

    const subdir = (name: string) => {
      const d = join(dir, name);
      mkdirSync(d);
      return d;
    };
    const pollId = await enroll("poll");
    const poller = await openAgent(counter, pollId, subdir("poll"), collect, {
      poll_interval_s: 30,
      backoff_max_s: 300,
    });
    agents.push(poller);
    const idle = await idlePoll(poller, counter);
    console.log(
      `idle poll cycle (GET desired + GET jobs, both 304; ${CYCLES} cycles after ${WARMUP} warm-up, ${idle.newConnections} new connections):`,
    );
    console.log(
      `  bytes on the wire per cycle: median ${quantile(idle.bytes, 0.5)}, p90 ${quantile(idle.bytes, 0.9)} (of which agent → hub median ${quantile(idle.up, 0.5)})`,
    );
    console.log(
      `  ms per cycle: median ${fmt(quantile(idle.ms, 0.5))}, p90 ${fmt(quantile(idle.ms, 0.9))}`,
    );

    const drainId = await enroll("drain");
    const drainer = await openAgent(hub, drainId, subdir("drain"), collect, {
      poll_interval_s: 30,
      backoff_max_s: 300,
    });
    agents.push(drainer);
    const d = await drain(hub, drainer, drainId, body, "cycles");
    console.log(
      `${d.queued} queued reports (${REPORTS} + the first cycle's) after the hub returns, cycles back to back: ${fmt(d.elapsed, 0)} ms (${d.cycles} cycle(s), ${d.posts} POSTs, ${fmt(d.elapsed / d.queued, 3)} ms per report), ${d.delivered} recorded, in order: ${d.inOrder}`,
    );

    const loopId = await enroll("loop");
    const looper = await openAgent(hub, loopId, subdir("loop"), collect, {
      poll_interval_s: 1,
      backoff_max_s: 2,
    });
    agents.push(looper);
    const l = await drain(hub, looper, loopId, body, "loop");
    console.log(
      `${l.queued} queued reports (${REPORTS} + the first cycle's), the link's own loop (poll 1 s, back-off cap 2 s, no jitter; hub back just after failed attempt ${l.failures}): first delivered ${fmt(l.firstAt ?? Number.NaN, 0)} ms after up(), all ${fmt(l.elapsed, 0)} ms (${l.posts} POSTs), ${l.delivered} recorded, in order: ${l.inOrder}`,
    );

    const signs = await signing(pollId, body);
    const perRequestMs = quantile(idle.ms, 0.5) / 2;
    console.log(
      `request signing (signing input with body SHA-256 + ed25519), ${SIGN_ROUNDS} rounds:`,
    );
    for (const s of signs) {
      const med = quantile(s.us, 0.5);
      console.log(
        `  ${s.label} (${s.bodyBytes} B body): median ${fmt(med, 1)} µs, p90 ${fmt(quantile(s.us, 0.9), 1)} µs; +${s.headerBytes} B of headers`,
      );
    }
    const getMed = quantile(signs[0]?.us ?? [], 0.5) / 1000;
    console.log(
      `  an idle-poll request takes ${fmt(perRequestMs)} ms median here, so signing is ${fmt((100 * getMed) / perRequestMs, 1)}% of it`,
    );
  } finally {
    for (const a of agents) a.close();
    proxmox.close();
    await counter.stop();
    await hub.stop();
    await pve.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
