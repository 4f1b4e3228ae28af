/**
 * Local API: authenticated GET /v1/self over HTTPS with keep-alive connections, N concurrent
 * callers for a fixed time, the server in its own process (real token store, Proxmox reads
 * from the simulator through the default 2 s read cache). Prints req/s and p50/p99 latency.
 * Loopback only; the server process exits with this one.
 * Run: bun bench/localapi-throughput.ts [--seconds 5] [--concurrency 16]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    seconds: { type: "string" },
    concurrency: { type: "string" },
    serve: { type: "boolean" },
  },
});

interface Ready {
  url: string;
  token: string;
  cert: string;
  leaf: string;
}

async function serve(): Promise<void> {
  const { createLocalApiApp } = await import("../src/localapi/app.ts");
  const { ensureLocalApiCertificate } = await import("../src/localapi/certificate.ts");
  const { startLocalApiServer } = await import("../src/localapi/server.ts");
  const { startPveSimulator } = await import("../src/sim/pve/index.ts");
  const { createProxmoxClient } = await import("../src/proxmox/client.ts");
  const { openStore } = await import("../src/store/open.ts");
  const { systemClock } = await import("../src/util/clock.ts");
  const dir = mkdtempSync(join(tmpdir(), "felhom-bench-localapi-"));
  const sim = await startPveSimulator({ authFailDelayMs: 0 });
  const client = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
  });
  const store = openStore({ path: join(dir, "state.db") });
  const minted = store.guestTokens.mint(101);
  const cert = await ensureLocalApiCertificate({ stateDir: dir, listen: "127.0.0.1" });
  const app = createLocalApiApp({
    tokens: store.guestTokens,
    submitter: {
      submit: () => Promise.reject(new Error("no mutations in this benchmark")),
      status: () => undefined,
    },
    proxmox: client,
    quotas: { quotaFor: () => ({ maxCores: 4, maxMemoryMiB: 4096 }) },
    backups: { backupStorageFor: () => "local" },
    clock: systemClock,
    // The figure is the API's own cost, not the default per-token budget (120/min).
    limits: { rateLimit: { perMinute: 100_000_000, burst: 1_000_000 } },
  });
  const server = startLocalApiServer({ app, tls: cert, hostname: "127.0.0.1", port: 0 });
  const stop = async () => {
    await server.stop();
    store.close();
    client.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  // The parent closing our stdin (or dying) ends this process.
  (async () => {
    for await (const _ of Bun.stdin.stream()) {
      // no input expected
    }
    await stop();
  })();
  const ready: Ready = {
    url: server.url,
    token: minted.token,
    cert: cert.cert,
    leaf: cert.leafSha256,
  };
  console.log(JSON.stringify(ready));
}

async function load(): Promise<void> {
  const seconds = Number(values.seconds ?? 5);
  const concurrency = Number(values.concurrency ?? 16);
  const child = Bun.spawn([process.execPath, import.meta.path, "--serve"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const kill = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);
  try {
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("server process ended before it was ready");
      text += new TextDecoder().decode(value);
    }
    const ready = JSON.parse(text.split("\n")[0] as string) as Ready;
    const session = new Bun.FetchSession({
      tls: {
        ca: ready.cert,
        checkServerIdentity: (_h: string, peer: { fingerprint256?: string }) =>
          peer.fingerprint256 === ready.leaf ? undefined : new Error("pin mismatch"),
      },
      proxy: false,
    } as Bun.FetchSessionInit);
    const url = `${ready.url}/v1/self`;
    const headers = { authorization: `Bearer ${ready.token}` };
    const probe = await session.fetch(url, { headers });
    const body = (await probe.json()) as { vmid?: number };
    if (probe.status !== 200 || body.vmid !== 101)
      throw new Error(`unexpected probe: ${probe.status}`);
    const latencies: number[] = [];
    let failed = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const s = performance.now();
          const res = await session.fetch(url, { headers });
          await res.arrayBuffer();
          latencies.push(performance.now() - s);
          if (res.status !== 200) failed++;
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    console.log(
      `local API GET /v1/self over HTTPS (${concurrency} keep-alive callers, ${elapsed.toFixed(1)} s, ` +
        `${latencies.length} requests): ${Math.round(latencies.length / elapsed)} req/s, ` +
        `p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, ${failed} non-200`,
    );
    session.close();
    await withWrk(url, ready.token, seconds, concurrency);
  } finally {
    clearTimeout(kill);
    child.stdin.end();
    await Promise.race([child.exited, Bun.sleep(5000)]);
    child.kill("SIGKILL");
  }
}

/**
 * The same load from wrk (Debian's `wrk`), a second opinion that is not Bun measuring itself.
 * wrk does not verify the server certificate; that is fine on loopback against our own server,
 * and the pinned figure above is the one a controller sees. Skipped when wrk is not installed.
 */
async function withWrk(url: string, token: string, seconds: number, concurrency: number) {
  const wrk = Bun.which("wrk");
  if (!wrk) {
    console.log("wrk not installed (apt-get install wrk): second measurement skipped");
    return;
  }
  const r = Bun.spawnSync(
    [
      wrk,
      `-t${Math.min(2, concurrency)}`,
      `-c${concurrency}`,
      `-d${seconds}s`,
      "--latency",
      "-H",
      `Authorization: Bearer ${token}`,
      url,
    ],
    { stdout: "pipe", stderr: "pipe", timeout: (seconds + 30) * 1000 },
  );
  const out = r.stdout.toString();
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1];
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1];
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? "0";
  if (r.exitCode !== 0 || !rps) {
    console.log(`wrk failed (exit ${r.exitCode}): ${r.stderr.toString().slice(0, 300)}`);
    return;
  }
  console.log(
    `wrk, same endpoint (${concurrency} connections, ${Math.min(2, concurrency)} thread(s), ${seconds} s): ` +
      `${Math.round(Number(rps))} req/s, p50 ${p50}, p99 ${p99}, ${non2xx} non-2xx`,
  );
}

if (values.serve) await serve();
else await load();
