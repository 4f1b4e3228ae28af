import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import { ReversibilityGate } from "../../gate/gate.ts";
import { describeAction } from "../../reconcile/actions.ts";
import { cachedDesiredProvider } from "../../reconcile/desired-provider.ts";
import { Engine } from "../../reconcile/engine.ts";
import { type PassReport, Reconciler } from "../../reconcile/reconciler.ts";
import { openStore } from "../../store/open.ts";
import type { Store } from "../../store/store.ts";
import type { DemoEnv, DemoStep } from "../types.ts";

const DEMO_VMID = 102;

/** A store in the demo's work dir, an engine and a reconciler on the agent's client. */
async function withReconciler<T>(
  env: DemoEnv,
  fn: (r: Reconciler, store: Store) => Promise<T>,
): Promise<T> {
  const store = openStore({
    path: join(env.workDir, "reconcile-state", "state.db"),
    clock: env.io.clock,
    logger: env.logger,
  });
  const client = env.client(env.sim.tokens.agent);
  const engine = new Engine({
    store,
    client,
    // The daemon's gate (src/gate/README.md) with no signers: the demo's benign steps run, and
    // anything destructive would be held, as on a host with no operator keys configured.
    gate: new ReversibilityGate({
      store,
      hostId: undefined,
      signers: [],
      clock: env.io.clock,
      ed25519: createEd25519(),
    }),
    concurrency: 4,
    clock: env.io.clock,
    logger: env.logger,
  });
  const reconciler = new Reconciler({
    engine,
    client,
    desired: cachedDesiredProvider(store.desired),
    clock: env.io.clock,
    logger: env.logger,
    readConcurrency: 4,
    onPlan: (plan) => {
      if (!plan.haveDesired) env.io.out("    plan: nothing (no desired state received yet)\n");
      else if (plan.actions.length === 0) env.io.out("    plan: nothing to do\n");
      for (const a of plan.actions) env.io.out(`    plan: ${describeAction(a)}\n`);
    },
  });
  try {
    await engine.resolve("recovery");
    return await fn(reconciler, store);
  } finally {
    await engine.stop();
    client.close();
    store.close();
  }
}

function showResults(env: DemoEnv, report: PassReport): void {
  for (const r of report.results) {
    env.io.out(`    task: ${r.op} ${r.vmid ?? ""} -> ${r.state}${r.upid ? ` (${r.upid})` : ""}\n`);
  }
}

/** Desired state: nothing without it, then a guest converged to new cores and run state. */
export const RECONCILE_STEPS: DemoStep[] = [
  {
    title: "No desired state received yet: the reconciler changes nothing",
    async run(env) {
      const before = env.sim.state.guests().map((g) => `${g.vmid}:${g.running}:${g.config.cores}`);
      const report = await withReconciler(env, (r) => r.runPass());
      const after = env.sim.state.guests().map((g) => `${g.vmid}:${g.running}:${g.config.cores}`);
      return {
        behaved:
          !report.haveDesired && report.planned.length === 0 && before.join() === after.join(),
        note: `${report.guestsSeen} guests seen, 0 actions (no desired state is not an empty one)`,
      };
    },
  },
  {
    title: `Desired state asks guest ${DEMO_VMID} for 4 cores and running: plan, tasks, convergence`,
    async run(env) {
      const guest = env.sim.state.guest(DEMO_VMID);
      env.io.out(
        `    actual: guest ${DEMO_VMID} ${guest?.running ? "running" : "stopped"}, ${guest?.config.cores} cores\n`,
      );
      const desired = { version: 1, guests: { [String(DEMO_VMID)]: { run: "running", cores: 4 } } };
      env.io.out(`    desired: ${JSON.stringify(desired)}\n`);
      return withReconciler(env, async (r, store) => {
        store.desired.put({ document: JSON.stringify(desired), source: "demo" });
        const first = await r.runPass();
        showResults(env, first);
        env.io.out("    next pass (level-triggered: re-reads actual state):\n");
        const second = await r.runPass();
        const now = env.sim.state.guest(DEMO_VMID);
        const journal = store.journal.forGuest(DEMO_VMID).reverse();
        for (const e of journal) env.io.out(`    journal #${e.id}: ${e.op} ${e.phase}\n`);
        return {
          behaved:
            first.done === 2 &&
            second.planned.length === 0 &&
            now?.running === true &&
            now.config.cores === 4 &&
            journal.every((e) => e.phase === "done"),
          note: `converged in one pass (${first.done} journaled operations); the next pass planned nothing`,
        };
      });
    },
  },
];
