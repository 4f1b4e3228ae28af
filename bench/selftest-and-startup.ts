/**
 * Prints: the read-only selftest's wall time against the simulator (in-process, over real
 * pinned TLS), and for the compiled binary its size, `version` start-up time and the idle RSS of
 * a running `sim`. Figures, not assertions (DEVELOPERS: machines are shared and noisy).
 *   bun bench/selftest-and-startup.ts [--runs N]
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileBinary } from "../scripts/compile.ts";
import { createProxmoxClient } from "../src/proxmox/client.ts";
import { runHealthChecks } from "../src/selftest/health-report.ts";
import { startPveSimulator } from "../src/sim/pve/index.ts";

const runs = Number(process.argv[process.argv.indexOf("--runs") + 1]) || 20;

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return `median ${pct(0.5).toFixed(1)} ms, p90 ${pct(0.9).toFixed(1)} ms (n=${s.length})`;
}

// 1. Selftest wall time: a fresh client each run (TLS probe + session), as the CLI does.
const sim = await startPveSimulator({ taskMs: 100, authFailDelayMs: 5 });
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const client = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
  });
  const t0 = performance.now();
  const r = await runHealthChecks({ client, endpoint: sim.endpoint });
  times.push(performance.now() - t0);
  client.close();
  if (!r.ok) throw new Error("selftest unhealthy against the simulator");
}
await sim.stop();
console.log(`selftest (6 checks, fresh pinned client): ${stats(times)}`);

// 2. The compiled binary.
const dir = mkdtempSync(join(tmpdir(), "felhom-bench-"));
const bin = join(dir, "felhom-agent");
const build = compileBinary({ outfile: bin });
if (!build.ok) throw new Error(build.stderr);
console.log(`binary size: ${(statSync(bin).size / 1024 / 1024).toFixed(1)} MiB`);

const starts: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const r = Bun.spawnSync([bin, "version"], { stdout: "ignore" });
  starts.push(performance.now() - t0);
  if (r.exitCode !== 0) throw new Error("version failed");
}
console.log(`'felhom-agent version' start-up: ${stats(starts)}`);

const simProc = Bun.spawn([bin, "sim"], { stdout: "pipe", stderr: "ignore" });
const reader = simProc.stdout.getReader();
let ready = "";
while (!ready.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) break;
  ready += new TextDecoder().decode(value);
}
await Bun.sleep(1000);
const status = await Bun.file(`/proc/${simProc.pid}/status`).text();
const rss = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
console.log(`idle RSS of 'felhom-agent sim': ${rss ? (Number(rss) / 1024).toFixed(0) : "?"} MiB`);
simProc.kill("SIGTERM");
await simProc.exited;
rmSync(dir, { recursive: true, force: true });
