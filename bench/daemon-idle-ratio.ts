/**
 * Idle RSS of the compiled daemon against its floor: `felhom-agent run` (enrolled with the hub
 * simulator, a desired state of --guests guests that does not change, the local API up)
 * against a minimal Hono + bun:sqlite HTTPS app compiled with the same flags
 * (scripts/compile.ts). Both run side by side for --seconds; RSS is sampled from /proc every
 * second and the median of the last half is compared (issue table: goal ≤ 1.3×). The
 * simulators run in this process and are not counted.
 *   bun bench/daemon-idle-ratio.ts [--seconds 60] [--guests 100]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileBinary } from "../scripts/compile.ts";
import { startHubSimulator } from "../src/sim/hub/index.ts";
import { defaultSeed, startPveSimulator } from "../src/sim/pve/index.ts";
import { createSelfSignedCert } from "../src/tls/self-signed.ts";
import { freeLoopbackPort } from "../src/util/free-port.ts";
import { hubDaemonConfig } from "../test/daemon/support.ts";
import { enrollIn } from "../test/hub/link-harness.ts";
import { formatSpread, spread } from "./support/ratio.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    seconds: { type: "string", default: "60" },
    guests: { type: "string", default: "100" },
  },
});
const seconds = Number(values.seconds);
const guestCount = Number(values.guests);

const FLOOR_SOURCE = `
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { Hono } from "hono";
const db = new Database(process.env.FLOOR_DB);
db.run("PRAGMA journal_mode = WAL");
db.run("CREATE TABLE IF NOT EXISTS tokens (hash BLOB PRIMARY KEY, vmid INTEGER NOT NULL)");
const lookup = db.query("SELECT vmid FROM tokens WHERE hash = ?");
const app = new Hono();
app.get("/v1/self", (c) => {
  const m = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "");
  const row = m?.[1] ? lookup.get(createHash("sha256").update(m[1]).digest()) : null;
  return row ? c.json(row) : c.json({ error: "unauthorized" }, 401);
});
Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.FLOOR_PORT),
  tls: { cert: process.env.FLOOR_CERT, key: process.env.FLOOR_KEY },
  fetch: (req) => app.fetch(req),
});
`;

function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const dir = mkdtempSync(join(tmpdir(), "felhom-bench-idle-"));
const pve = await startPveSimulator({
  taskMs: 200,
  authFailDelayMs: 0,
  seed: defaultSeed({ extraGuests: guestCount }),
});
const hub = await startHubSimulator();
const children: Bun.Subprocess[] = [];
try {
  const agentBin = join(dir, "felhom-agent");
  const floorBin = join(dir, "floor");
  // The floor imports hono from this checkout's node_modules.
  const floorSrc = join(import.meta.dir, `.floor-${process.pid}.ts`);
  writeFileSync(floorSrc, FLOOR_SOURCE);
  try {
    for (const [outfile, entry] of [
      [agentBin, undefined],
      [floorBin, floorSrc],
    ] as const) {
      const r = compileBinary({ outfile, ...(entry ? { entry } : {}) });
      if (!r.ok) throw new Error(`build failed: ${r.stderr}`);
    }
  } finally {
    rmSync(floorSrc, { force: true });
  }

  const stateDir = join(dir, "state");
  const identity = await enrollIn(hub, stateDir);
  const guests: Record<string, unknown> = {};
  for (let i = 0; i < guestCount; i++) guests[String(1000 + i)] = { cores: 1 };
  hub.setDesired({ version: 1, guests, backup_storage: "local" }, identity.host_id);
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "warn" })),
    { mode: 0o600 },
  );
  const cert = await createSelfSignedCert({ commonName: "floor", altNames: ["127.0.0.1"] });
  const agent = Bun.spawn([agentBin, "--config", configPath, "run"], {
    stdout: "ignore",
    stderr: "ignore",
    env: { PATH: "/usr/bin:/bin" },
  });
  const floor = Bun.spawn([floorBin], {
    stdout: "ignore",
    stderr: "inherit",
    env: {
      PATH: "/usr/bin:/bin",
      FLOOR_DB: join(dir, "floor.db"),
      FLOOR_PORT: String(await freeLoopbackPort()),
      FLOOR_CERT: cert.cert,
      FLOOR_KEY: cert.key,
    },
  });
  children.push(agent, floor);
  const samples = { agent: [] as number[], floor: [] as number[] };
  for (let s = 0; s < seconds; s++) {
    await Bun.sleep(1000);
    if (agent.exitCode !== null || floor.exitCode !== null) {
      throw new Error(`a process ended early: agent ${agent.exitCode}, floor ${floor.exitCode}`);
    }
    const a = rssMiB(agent.pid);
    const f = rssMiB(floor.pid);
    if (s >= seconds / 2 && a !== undefined && f !== undefined) {
      samples.agent.push(a);
      samples.floor.push(f);
    }
  }
  const a = spread(samples.agent);
  const f = spread(samples.floor);
  console.log(
    `idle RSS over the last ${Math.ceil(seconds / 2)} s of ${seconds} s, ${guestCount} guests in desired state (Bun ${Bun.version})`,
  );
  console.log(`  agent 'run': ${formatSpread(a, "MiB")}`);
  console.log(`  floor (Hono + bun:sqlite over HTTPS): ${formatSpread(f, "MiB")}`);
  console.log(`  ratio of medians: ${(a.median / f.median).toFixed(2)}x (goal ≤ 1.3x)`);
} finally {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => Promise.race([c.exited, Bun.sleep(5000)])));
  for (const c of children) c.kill("SIGKILL");
  await hub.stop();
  await pve.stop();
  rmSync(dir, { recursive: true, force: true });
}
