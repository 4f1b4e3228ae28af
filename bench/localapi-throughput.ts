/**
 * Local API: authenticated GET /v1/self over HTTPS with keep-alive connections, N concurrent
 * callers for a fixed time, the server in its own process (real token store, the daemon's
 * quota and backup lookups over a persisted desired state of --guests guests, Proxmox reads
 * from the simulator through the default 2 s read cache). Its floor runs beside it in another
 * process: a minimal Hono app over HTTPS that looks the token up in SQLite and answers JSON.
 * The two are loaded alternately, --rounds times each, by wrk when it is installed (else by
 * Bun's fetch), then at a fixed 1,000 requests per second for the p99 latency. Prints
 * min/median/max and the ratios of medians. Loopback only; the servers exit with this one.
 * Run: bun bench/localapi-throughput.ts [--seconds 5] [--concurrency 50] [--rounds 3] [--guests 1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { alternate, ratioLine } from "./support/ratio.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    seconds: { type: "string" },
    concurrency: { type: "string" },
    rounds: { type: "string" },
    guests: { type: "string" },
    serve: { type: "string" },
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
  const { DesiredLookups } = await import("../src/daemon/desired-lookups.ts");
  const { silentLogger } = await import("../src/log/types.ts");
  const store = openStore({ path: join(dir, "state.db") });
  const minted = store.guestTokens.mint(101);
  // The daemon's own lookups over a persisted desired state, as `run` wires them.
  const guests: Record<string, unknown> = {};
  for (let i = 0; i < Number(values.guests ?? 1000); i++) {
    guests[String(1000 + i)] = { cores: 2, max_cores: 4, max_memory_mib: 4096 };
  }
  guests["101"] = { max_cores: 4, max_memory_mib: 4096 };
  store.desired.put({
    document: JSON.stringify({ version: 1, guests, backup_storage: "local" }),
    source: "bench",
  });
  const lookups = new DesiredLookups(store.desired, silentLogger);
  const cert = await ensureLocalApiCertificate({ stateDir: dir, listen: "127.0.0.1" });
  const app = createLocalApiApp({
    tokens: store.guestTokens,
    submitter: {
      submit: () => Promise.reject(new Error("no mutations in this benchmark")),
      status: () => undefined,
    },
    proxmox: client,
    quotas: lookups,
    backups: lookups,
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

/**
 * The floor: what any HTTPS JSON API with a SQLite token table costs on this runtime. Hono,
 * Bun.serve with TLS, one prepared SELECT per request on a SHA-256 of the token, a JSON body
 * of the same shape as the agent's.
 */
async function serveFloor(): Promise<void> {
  const { Hono } = await import("hono");
  const { Database } = await import("bun:sqlite");
  const { createHash, randomBytes } = await import("node:crypto");
  const { createSelfSignedCert } = await import("../src/tls/self-signed.ts");
  const { pemFingerprint } = await import("../src/tls/fingerprint.ts");
  const dir = mkdtempSync(join(tmpdir(), "felhom-bench-floor-"));
  const db = new Database(join(dir, "floor.db"));
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE tokens (hash BLOB PRIMARY KEY, vmid INTEGER NOT NULL)");
  const token = randomBytes(32).toString("base64url");
  const hash = (t: string) => createHash("sha256").update(t).digest();
  db.query("INSERT INTO tokens (hash, vmid) VALUES (?, ?)").run(hash(token), 101);
  const lookup = db.query("SELECT vmid FROM tokens WHERE hash = ?");
  const guest = {
    vmid: 101,
    name: "ct101",
    status: "running",
    uptime_s: 1234,
    cores: 2,
    memory_mib: 2048,
    quota: { max_cores: 4, max_memory_mib: 4096 },
  };
  const app = new Hono();
  app.get("/v1/self", (c) => {
    const m = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "");
    const row = m?.[1] ? (lookup.get(hash(m[1])) as { vmid: number } | null) : null;
    if (!row) return c.json({ error: "unauthorized" }, 401);
    return c.json({ ...guest, vmid: row.vmid });
  });
  const cert = await createSelfSignedCert({ commonName: "floor", altNames: ["127.0.0.1"] });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: cert.cert, key: cert.key },
    fetch: (req) => app.fetch(req),
  });
  (async () => {
    for await (const _ of Bun.stdin.stream()) {
      // no input expected
    }
    await server.stop(true);
    db.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  })();
  const ready: Ready = {
    url: `https://127.0.0.1:${server.port}`,
    token,
    cert: cert.cert,
    leaf: pemFingerprint(cert.cert),
  };
  console.log(JSON.stringify(ready));
}

interface Server {
  child: Bun.Subprocess<"pipe", "pipe", "inherit">;
  ready: Ready;
  session: Bun.FetchSession;
}

async function startServer(kind: "agent" | "floor"): Promise<Server> {
  const child = Bun.spawn([process.execPath, import.meta.path, "--serve", kind], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} server ended before it was ready`);
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
  const probe = await session.fetch(`${ready.url}/v1/self`, {
    headers: { authorization: `Bearer ${ready.token}` },
  });
  const body = (await probe.json()) as { vmid?: number };
  if (probe.status !== 200 || body.vmid !== 101) {
    throw new Error(`unexpected ${kind} probe: ${probe.status}`);
  }
  return { child, ready, session };
}

interface Figures {
  rps: number;
  p99: number;
}

/** Closed loop: `concurrency` keep-alive callers as fast as answers come. */
async function closedLoop(s: Server, seconds: number, concurrency: number): Promise<Figures> {
  const wrk = Bun.which("wrk");
  if (wrk) return withWrk(wrk, `${s.ready.url}/v1/self`, s.ready.token, seconds, concurrency);
  const url = `${s.ready.url}/v1/self`;
  const headers = { authorization: `Bearer ${s.ready.token}` };
  const latencies: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const res = await s.session.fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        latencies.push(performance.now() - start);
      }
    }),
  );
  return {
    rps: latencies.length / ((performance.now() - t0) / 1000),
    p99: quantile(latencies, 0.99),
  };
}

/**
 * Open loop at a fixed rate: a request is due every 1/rate s whether or not the earlier ones
 * were answered, and its latency counts from when it was due, so a stall is not hidden by
 * callers that waited (coordinated omission).
 */
async function fixedRate(s: Server, seconds: number, rate: number): Promise<Figures> {
  const url = `${s.ready.url}/v1/self`;
  const headers = { authorization: `Bearer ${s.ready.token}` };
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const total = Math.floor(seconds * rate);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    pending.push(
      s.session.fetch(url, { headers }).then(async (res) => {
        await res.arrayBuffer();
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return { rps: total / ((performance.now() - t0) / 1000), p99: quantile(latencies, 0.99) };
}

function quantile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
}

async function load(): Promise<void> {
  const seconds = Number(values.seconds ?? 5);
  const concurrency = Number(values.concurrency ?? 50);
  const rounds = Number(values.rounds ?? 3);
  const servers: Server[] = [];
  const kill = setTimeout(
    () => {
      for (const s of servers) s.child.kill("SIGKILL");
    },
    (rounds * seconds * 4 + 120) * 1000,
  );
  try {
    servers.push(await startServer("agent"), await startServer("floor"));
    const [agent, floor] = servers as [Server, Server];
    const by = Bun.which("wrk")
      ? `wrk, ${Math.min(2, concurrency)} threads`
      : "Bun fetch (wrk not installed: apt-get install wrk)";
    const closed = await alternate(rounds, {
      agent: () => closedLoop(agent, seconds, concurrency),
      floor: () => closedLoop(floor, seconds, concurrency),
    });
    const open = await alternate(rounds, {
      agent: () => fixedRate(agent, seconds, 1000),
      floor: () => fixedRate(floor, seconds, 1000),
    });
    console.log(
      `local API GET /v1/self over HTTPS, ${values.guests ?? 1000} guests in desired state, ` +
        `${rounds} alternating rounds of ${seconds} s (Bun ${Bun.version})`,
    );
    const rps = (f: Figures[]) => f.map((x) => x.rps);
    const p99 = (f: Figures[]) => f.map((x) => x.p99);
    console.log(
      ratioLine(
        `throughput, ${by}, ${concurrency} connections`,
        rps(closed.agent),
        rps(closed.floor),
        "≥ 0.8x",
        "req/s",
      ),
    );
    console.log(
      ratioLine(
        "p99 latency at a fixed 1,000 req/s (Bun fetch, pinned, open loop)",
        p99(open.agent),
        p99(open.floor),
        "≤ 1.2x",
        "ms",
      ),
    );
  } finally {
    clearTimeout(kill);
    for (const s of servers) {
      s.session.close();
      s.child.stdin.end();
    }
    for (const s of servers) {
      await Promise.race([s.child.exited, Bun.sleep(5000)]);
      s.child.kill("SIGKILL");
    }
  }
}

/**
 * wrk (Debian's `wrk`): not Bun measuring itself. wrk does not verify the server certificate;
 * that is fine on loopback against servers this bench started.
 */
function withWrk(
  wrk: string,
  url: string,
  token: string,
  seconds: number,
  concurrency: number,
): Figures {
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
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1];
  if (r.exitCode !== 0 || !rps || !p99) {
    throw new Error(`wrk failed (exit ${r.exitCode}): ${r.stderr.toString().slice(0, 300)}`);
  }
  if (non2xx) throw new Error(`wrk saw ${non2xx} non-2xx answers`);
  const scale = p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1;
  return { rps: Number(rps), p99: Number(p99[1]) * scale };
}

if (values.serve === "agent") await serve();
else if (values.serve === "floor") await serveFloor();
else await load();
