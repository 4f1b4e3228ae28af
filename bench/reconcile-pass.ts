/**
 * Reconcile pass cost against the simulator with N guests (all managed: run state + cores):
 * API calls and wall time of a steady-state pass (nothing to do), and time to converge when
 * every guest drifts (cores changed on each). The target is one list call plus one config
 * read per spec-managed guest for a steady pass, and convergence bounded by the global
 * concurrency rather than N.
 * Run: bun bench/reconcile-pass.ts [--sizes 10,100,500] [--task-ms 200] [--concurrency 8]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createEd25519 } from "../src/authz/ed25519.ts";
import { ReversibilityGate } from "../src/gate/gate.ts";
import { silentLogger } from "../src/log/types.ts";
import { createProxmoxClient } from "../src/proxmox/client.ts";
import { cachedDesiredProvider } from "../src/reconcile/desired-provider.ts";
import { Engine } from "../src/reconcile/engine.ts";
import { Reconciler } from "../src/reconcile/reconciler.ts";
import { defaultSeed, startPveSimulator } from "../src/sim/pve/index.ts";
import { openStore } from "../src/store/open.ts";
import { systemClock } from "../src/util/clock.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: {
    sizes: { type: "string" },
    "task-ms": { type: "string" },
    concurrency: { type: "string" },
  },
});
const sizes = (values.sizes ?? "10,100,500").split(",").map(Number);
const taskMs = Number(values["task-ms"] ?? 200);
const concurrency = Number(values.concurrency ?? 8);

/** A simulator of `n` guests and the agent's engine and reconciler on a fresh store. */
async function rig(n: number) {
  // The default seed has 3 guests; the rest are load guests from VMID 1000.
  const sim = await startPveSimulator({
    taskMs,
    authFailDelayMs: 0,
    seed: defaultSeed({ extraGuests: Math.max(0, n - 3) }),
  });
  const dir = mkdtempSync(join(tmpdir(), "felhom-bench-reconcile-"));
  const store = openStore({ path: join(dir, "state.db") });
  const client = createProxmoxClient({
    endpoint: sim.endpoint,
    node: sim.node,
    token: sim.tokens.agent,
    trust: { kind: "fingerprint", sha256: sim.fingerprint },
    taskPoll: { initialMs: 50, factor: 1.5, maxMs: 500 },
  });
  const engine = new Engine({
    store,
    client,
    // The daemon's gate with no signers: the benign plan this bench drives runs, as it would there.
    gate: new ReversibilityGate({
      store,
      hostId: undefined,
      signers: [],
      clock: systemClock,
      ed25519: createEd25519(),
    }),
    concurrency,
    clock: systemClock,
    logger: silentLogger,
  });
  const reconciler = new Reconciler({
    engine,
    client,
    desired: cachedDesiredProvider(store.desired),
    clock: systemClock,
    logger: silentLogger,
    readConcurrency: 8,
  });
  return {
    sim,
    store,
    reconciler,
    async close() {
      await engine.stop();
      client.close();
      store.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function measure(n: number): Promise<void> {
  const { sim, store, reconciler, close } = await rig(n);
  try {
    const guests = sim.state.guests();
    const put = (cores: number) =>
      store.desired.put({
        source: "bench",
        document: JSON.stringify({
          version: 1,
          guests: Object.fromEntries(
            guests.map((g) => [String(g.vmid), { run: g.running ? "running" : "stopped", cores }]),
          ),
        }),
      });
    put(2);
    const warm = await reconciler.runPass();
    if (warm.planned.length !== 0)
      throw new Error(`expected a steady state, planned ${warm.planned.length}`);
    const r0 = sim.requestCount;
    const t0 = performance.now();
    await reconciler.runPass();
    const steadyMs = performance.now() - t0;
    const steadyCalls = sim.requestCount - r0;

    put(3);
    const r1 = sim.requestCount;
    const t1 = performance.now();
    const drift = await reconciler.runPass();
    const check = await reconciler.runPass();
    const convergeMs = performance.now() - t1;
    if (drift.done !== n || check.planned.length !== 0) {
      throw new Error(
        `did not converge: done ${drift.done}/${n}, still planned ${check.planned.length}`,
      );
    }
    console.log(
      `${String(n).padStart(4)} guests  steady pass: ${String(steadyCalls).padStart(4)} API calls, ${steadyMs.toFixed(0).padStart(5)} ms   ` +
        `converge all drifted: ${convergeMs.toFixed(0).padStart(6)} ms, ${sim.requestCount - r1} API calls (config is synchronous; concurrency ${concurrency})`,
    );
  } finally {
    await close();
  }
}

for (const n of sizes) await measure(n);

// Drift of the run state goes through tasks, so it shows the concurrency bound.
async function measureStarts(n: number): Promise<void> {
  const { sim, store, reconciler, close } = await rig(n);
  try {
    const stoppedGuests = sim.state.guests().filter((g) => !g.running);
    store.desired.put({
      source: "bench",
      document: JSON.stringify({
        version: 1,
        guests: Object.fromEntries(stoppedGuests.map((g) => [String(g.vmid), { run: "running" }])),
      }),
    });
    const t = performance.now();
    const r = await reconciler.runPass();
    const ms = performance.now() - t;
    const waves = Math.ceil(stoppedGuests.length / concurrency);
    console.log(
      `${String(n).padStart(4)} guests  start ${String(r.done).padStart(3)} stopped guests (task ${taskMs} ms): ${ms.toFixed(0).padStart(6)} ms ` +
        `(${waves} waves of ${concurrency}; lower bound ${waves * taskMs} ms)`,
    );
  } finally {
    await close();
  }
}

for (const n of sizes) await measureStarts(n);
