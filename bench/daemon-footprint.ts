/**
 * What `felhom-agent run` costs the host under a demo-like load, measured from outside the
 * process: peak and final RSS, threads (systemd's TasksMax counts them) and open file
 * descriptors (LimitNOFILE). The daemon runs as its own process against the Proxmox and hub
 * simulators (which run here, so they are not counted), enrolled, with a desired state over
 * many guests that changes every few seconds, hub jobs, and guests' controllers calling the
 * local API in parallel. The figures size the systemd unit's limits (README, install section).
 * Run: bun bench/daemon-footprint.ts [--seconds 30] [--guests 100] [--callers 16] [--binary PATH]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startHubSimulator } from "../src/sim/hub/index.ts";
import { defaultSeed, startPveSimulator } from "../src/sim/pve/index.ts";
import { openStore } from "../src/store/open.ts";
import { freeLoopbackPort } from "../src/util/free-port.ts";
import { hubDaemonConfig } from "../test/daemon/support.ts";
import { enrollIn } from "../test/hub/link-harness.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    seconds: { type: "string" },
    guests: { type: "string" },
    callers: { type: "string" },
    binary: { type: "string" },
  },
});
const seconds = Number(values.seconds ?? 30);
const extraGuests = Number(values.guests ?? 100);
const callers = Number(values.callers ?? 16);

interface Sample {
  rssKiB: number;
  hwmKiB: number;
  threads: number;
  fds: number;
}

function sample(pid: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1]);
    return {
      rssKiB: field("VmRSS"),
      hwmKiB: field("VmHWM"),
      threads: field("Threads"),
      fds: readdirSync(`/proc/${pid}/fd`).length,
    };
  } catch {
    return undefined;
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "felhom-bench-footprint-"));
  const pve = await startPveSimulator({
    taskMs: 200,
    authFailDelayMs: 0,
    seed: defaultSeed({ extraGuests }),
  });
  const hub = await startHubSimulator();
  const stateDir = join(dir, "state");
  // The simulator offers no signers here, so the host accepts none.
  const identity = await enrollIn(hub, stateDir);
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  const tokens = [101, 102, 103].map((vmid) => store.guestTokens.mint(vmid).token);
  store.close();
  const loadIds = Array.from({ length: extraGuests }, (_, i) => 1000 + i);
  let round = 0;
  const desired = () => {
    round++;
    const guests: Record<string, unknown> = {
      "101": { max_cores: 4, max_memory_mib: 4096 },
      "102": { max_cores: 4, max_memory_mib: 4096 },
      "103": { max_cores: 4, max_memory_mib: 4096 },
    };
    // Every round moves a third of the load guests' cores: a steady stream of mutations.
    for (const [i, vmid] of loadIds.entries()) {
      guests[String(vmid)] = { cores: 1 + ((i + round) % 3 === 0 ? 2 : 1) };
    }
    hub.setDesired({ version: 1, guests, backup_storage: "local" }, identity.host_id);
  };
  desired();
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "warn" })),
    { mode: 0o600 },
  );
  const cmd = values.binary
    ? [values.binary, "--config", configPath, "run"]
    : [process.execPath, join(import.meta.dir, "../src/main.ts"), "--config", configPath, "run"];
  const child = Bun.spawn(cmd, {
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH: "/usr/bin:/bin" },
  });
  const samples: Sample[] = [];
  let requests = 0;
  let answered = 0;
  const stopAt = Date.now() + seconds * 1000;
  const sampler = (async () => {
    while (Date.now() < stopAt && child.exitCode === null) {
      const s = sample(child.pid);
      if (s) samples.push(s);
      await Bun.sleep(100);
    }
  })();
  // Wait until the local API answers, then load it.
  const base = `https://127.0.0.1:${port}`;
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    requests++;
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        // Loopback bench against the daemon's own fresh certificate.
        tls: { rejectUnauthorized: false },
      });
      await res.arrayBuffer();
      answered++;
    } catch {
      // Not up yet, or shutting down.
    }
  };
  const loaders = Array.from({ length: callers }, async (_, i) => {
    const token = tokens[i % tokens.length] as string;
    let n = 0;
    while (Date.now() < stopAt && child.exitCode === null) {
      n++;
      if (n % 50 === 0) await call(token, "POST", "/v1/self/snapshots", { name: `b${i}-${n}` });
      else await call(token, "GET", n % 2 ? "/v1/self" : "/v1/self/snapshots");
      await Bun.sleep(5);
    }
  });
  const churn = (async () => {
    let job = 0;
    while (Date.now() < stopAt && child.exitCode === null) {
      await Bun.sleep(3000);
      desired();
      job++;
      hub.addJob(
        { id: `bench-${job}`, op: "guest.snapshot", vmid: 102, params: { name: `job-${job}` } },
        identity.host_id,
      );
    }
  })();
  await Promise.all([sampler, churn, ...loaders]);
  const last = sample(child.pid);
  if (last) samples.push(last);
  child.kill("SIGTERM");
  const code = await child.exited;
  const stderr = await new Response(child.stderr).text();
  await hub.stop();
  await pve.stop();
  rmSync(dir, { recursive: true, force: true });
  if (samples.length === 0) {
    console.error(`the daemon did not run (exit ${code}):\n${stderr.slice(0, 2000)}`);
    process.exit(1);
  }
  const max = (f: (s: Sample) => number) => Math.max(...samples.map(f));
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  console.log(
    `daemon footprint over ${seconds} s: ${extraGuests + 3} guests, ${callers} local-API callers, ` +
      `desired state changed every 3 s, a hub job every 3 s`,
  );
  console.log(`  local API requests answered: ${answered} of ${requests}`);
  console.log(
    `  hub: ${hub.state.reports.length} reports, ${hub.state.audit.length} audit rows, ${hub.state.results.length} job results`,
  );
  console.log(
    `  peak RSS (VmHWM): ${mib(max((s) => s.hwmKiB))}; final RSS ${mib(last?.rssKiB ?? 0)}`,
  );
  console.log(`  peak threads: ${max((s) => s.threads)}; peak open fds: ${max((s) => s.fds)}`);
  console.log(`  exit on SIGTERM: ${code}`);
}

await main();
