import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../log/logger.ts";
import { createProxmoxClient } from "../proxmox/client.ts";
import { startPveSimulator } from "../sim/pve/index.ts";
import { BACKUP_STEPS } from "./steps/backups.ts";
import { daemonSteps } from "./steps/daemon.ts";
import { HEALTH_STEPS } from "./steps/health.ts";
import { PROXMOX_BASICS } from "./steps/proxmox-basics.ts";
import { RECONCILE_STEPS } from "./steps/reconcile.ts";
import { STORAGE_STEPS } from "./steps/storage.ts";
import type { DemoEnv, DemoIo, DemoStep, DemoStepResult } from "./types.ts";

/**
 * The walkthrough `felhom-agent demo` runs against the embedded simulator, in order. Each
 * area of the agent contributes its steps from src/demo/steps/.
 */
export function demoSteps(): DemoStep[] {
  return [
    ...PROXMOX_BASICS,
    ...RECONCILE_STEPS,
    ...daemonSteps(),
    ...STORAGE_STEPS,
    // After the storage step: it defines the NAS this one backs up to.
    ...BACKUP_STEPS,
    ...HEALTH_STEPS,
  ];
}

export async function runDemoScenario(
  io: DemoIo,
  opts: { taskMs?: number; steps?: DemoStep[] } = {},
): Promise<DemoStepResult[]> {
  const logger = createLogger({ level: "warn", sink: io.logSink });
  io.out("Starting the Proxmox VE simulator on loopback (real HTTPS, its own certificate)...\n");
  const sim = await startPveSimulator({ taskMs: opts.taskMs ?? 700, authFailDelayMs: 200 });
  io.out(`  endpoint    ${sim.endpoint} (node ${sim.node})\n  fingerprint ${sim.fingerprint}\n\n`);
  const workDir = mkdtempSync(join(tmpdir(), "felhom-demo-"));
  const deferred: Array<() => Promise<void> | void> = [];
  const env: DemoEnv = {
    sim,
    io,
    logger,
    workDir,
    defer: (fn) => deferred.unshift(fn),
    client: (token, fingerprint) =>
      createProxmoxClient({
        endpoint: sim.endpoint,
        node: sim.node,
        token,
        trust: { kind: "fingerprint", sha256: fingerprint ?? sim.fingerprint },
        logger,
        clock: io.clock,
      }),
  };
  const results: DemoStepResult[] = [];
  try {
    for (const [i, step] of (opts.steps ?? demoSteps()).entries()) {
      io.out(`${i + 1}. ${step.title}\n`);
      let outcome: { behaved: boolean; note: string };
      try {
        outcome = await step.run(env);
      } catch (err) {
        outcome = { behaved: false, note: `unexpected error: ${(err as Error).message}` };
      }
      results.push({ title: step.title, ...outcome });
      io.out(`   => ${outcome.behaved ? "as expected" : "NOT AS EXPECTED"}: ${outcome.note}\n\n`);
    }
  } finally {
    for (const fn of deferred) {
      try {
        await fn();
      } catch (err) {
        io.out(`   (cleanup: ${(err as Error).message})\n`);
      }
    }
    await sim.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  return results;
}
