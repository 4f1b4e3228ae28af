import { ProxmoxTlsError } from "../../proxmox/transport-errors.ts";
import { runHealthChecks } from "../../selftest/health-report.ts";
import { renderCheck, renderStep } from "../../selftest/render.ts";
import { runTaskExercise } from "../../selftest/task-exercise.ts";
import type { DemoStep } from "../types.ts";

/** The Proxmox layer: the health report, TLS pinning, privilege diagnosis, the task path. */
export const PROXMOX_BASICS: DemoStep[] = [
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
