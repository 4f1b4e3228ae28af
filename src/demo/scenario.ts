import { createLogger } from "../log/logger.ts";
import type { Logger } from "../log/types.ts";
import { createProxmoxClient } from "../proxmox/client.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { ProxmoxTlsError } from "../proxmox/transport-errors.ts";
import { runHealthChecks } from "../selftest/health-report.ts";
import { renderCheck, renderStep } from "../selftest/render.ts";
import { runTaskExercise } from "../selftest/task-exercise.ts";
import { type PveSimulator, startPveSimulator } from "../sim/pve/index.ts";
import type { Clock } from "../util/clock.ts";

export interface DemoIo {
  out(text: string): void;
  clock: Clock;
  /** Where the agent's JSON log lines go (stderr in the CLI). */
  logSink(line: string): void;
}

export interface DemoStepResult {
  title: string;
  behaved: boolean;
  note: string;
}

interface DemoEnv {
  sim: PveSimulator;
  io: DemoIo;
  logger: Logger;
  client(token: string, fingerprint?: string): ProxmoxClient;
}

type DemoStep = { title: string; run(env: DemoEnv): Promise<{ behaved: boolean; note: string }> };

/**
 * The walkthrough `felhom-agent demo` runs against the embedded simulator. Each step says what
 * a newcomer should see and checks that the agent behaved that way; the demo fails when one
 * did not. Later work (reconcile, gate, local API) adds steps here.
 */
const STEPS: DemoStep[] = [
  {
    title: "Health report (the read-only --selftest)",
    async run(env) {
      const client = env.client(env.sim.tokens.agent);
      try {
        const r = await runHealthChecks({
          client,
          endpoint: env.sim.endpoint,
          pinnedFingerprint: env.sim.fingerprint,
          onCheck: (c) => env.io.out(renderCheck(c)),
        });
        return {
          behaved: r.ok && r.checks.every((c) => c.status === "ok"),
          note: `${r.guests?.length ?? 0} containers, ${r.storage?.length ?? 0} storages, all 16 privileges present`,
        };
      } finally {
        client.close();
      }
    },
  },
  {
    title: "A wrong TLS pin is refused before any HTTP byte (so the token never leaves)",
    async run(env) {
      const wrong = env.sim.fingerprint.replace(/^../, (b) => (b === "00" ? "11" : "00"));
      const client = env.client(env.sim.tokens.agent, wrong);
      const before = env.sim.requestCount;
      try {
        await client.version();
        return { behaved: false, note: "the request went through despite a wrong pin" };
      } catch (err) {
        const refused = err instanceof ProxmoxTlsError && err.failure === "mismatch";
        const reached = env.sim.requestCount - before;
        env.io.out(`    refused: ${(err as Error).message}\n`);
        env.io.out(`    HTTP requests that reached the simulator: ${reached}\n`);
        return { behaved: refused && reached === 0, note: "pin mismatch refused at the handshake" };
      } finally {
        client.close();
      }
    },
  },
  {
    title: "A token without ACLs: the self-test names each missing privilege and the fix",
    async run(env) {
      const client = env.client(env.sim.tokens.noacl);
      try {
        const r = await runHealthChecks({ client, endpoint: env.sim.endpoint });
        const priv = r.checks.find((c) => c.name === "privileges");
        if (priv) env.io.out(renderCheck({ ...priv, hints: priv.hints.slice(0, 3) }));
        return {
          behaved: !r.ok && (r.privileges?.missing.length ?? 0) === 16,
          note: "reported as unhealthy with 16 missing privileges",
        };
      } finally {
        client.close();
      }
    },
  },
  {
    title: "The task path (--selftest=task): snapshot, rollback, delete on guest 101",
    async run(env) {
      const client = env.client(env.sim.tokens.agent);
      try {
        const r = await runTaskExercise({
          client,
          clock: env.io.clock,
          vmid: 101,
          onStep: (s) => env.io.out(renderStep(s)),
        });
        const after = env.sim.state.guest(101);
        const running = after?.running === true;
        const leftover = after ? after.snapshots.has(r.snapshot) : true;
        env.io.out(
          `    guest 101 afterwards: ${after ? (after.running ? "running" : "stopped") : "missing"}, snapshot left: ${leftover ? "yes" : "no"}\n`,
        );
        return {
          behaved: r.ok && r.leftClean && running && !leftover,
          note: "each task waited to OK; the guest is running again and clean",
        };
      } finally {
        client.close();
      }
    },
  },
];

export async function runDemoScenario(
  io: DemoIo,
  opts: { taskMs?: number } = {},
): Promise<DemoStepResult[]> {
  const logger = createLogger({ level: "warn", sink: io.logSink });
  io.out("Starting the Proxmox VE simulator on loopback (real HTTPS, its own certificate)...\n");
  const sim = await startPveSimulator({ taskMs: opts.taskMs ?? 700, authFailDelayMs: 200 });
  io.out(`  endpoint    ${sim.endpoint} (node ${sim.node})\n  fingerprint ${sim.fingerprint}\n\n`);
  const env: DemoEnv = {
    sim,
    io,
    logger,
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
    for (const [i, step] of STEPS.entries()) {
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
    await sim.stop();
  }
  return results;
}
