import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Gate } from "../../src/gate/seam.ts";
import type { Logger } from "../../src/log/types.ts";
import { silentLogger } from "../../src/log/types.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { cachedDesiredProvider } from "../../src/reconcile/desired-provider.ts";
import { parseDesiredText } from "../../src/reconcile/desired-state.ts";
import { Engine, type EngineHooks, type EngineOptions } from "../../src/reconcile/engine.ts";
import { storeOverrideBook } from "../../src/reconcile/override-book.ts";
import { Reconciler } from "../../src/reconcile/reconciler.ts";
import { actionRetry } from "../../src/reconcile/retry-book.ts";
import {
  type PveSimOptions,
  type PveSimulator,
  startPveSimulator,
} from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";
import { unsignedGate } from "../support/unsigned-gate.ts";

/** Polls `cond` every few ms until it holds; fails after `maxMs` of real time. */
export async function until(cond: () => boolean, what: string, maxMs = 4_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface RigOptions {
  concurrency?: number;
  hooks?: EngineHooks;
  gate?: Gate;
  /** A gate over the current store, made again by restart(). */
  makeGate?: (store: Store) => Gate;
  logger?: Logger;
  /** The agent's clock; default the system clock. */
  clock?: Clock;
  /** The client's per-request timeout. */
  requestTimeoutMs?: number;
  /** Engine options over the rig's defaults. */
  engine?: Partial<
    Pick<
      EngineOptions,
      | "unknownWindowMs"
      | "lostAnswerPollMs"
      | "hungTaskMs"
      | "quickRetry"
      | "random"
      | "clockOffset"
      | "taskDeadlineMs"
      | "hostOps"
      | "secrets"
    >
  >;
}

/** A simulator, a pinned agent client, a fresh store, and an engine + reconciler on them. */
export class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-reconcile-"));
  store: Store;
  readonly client: ProxmoxClient;
  engine: Engine;
  reconciler: Reconciler;
  desired: ReturnType<typeof cachedDesiredProvider>;
  /** The agent's clock (store, engine, reconciler); the simulator keeps its own. */
  readonly clock: Clock;

  private constructor(
    readonly sim: PveSimulator,
    private readonly opts: RigOptions & { concurrency: number },
    readonly logger: Logger,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.store = openStore({ path: join(this.dir, "state.db"), clock: this.clock });
    this.client = createProxmoxClient({
      endpoint: sim.endpoint,
      node: sim.node,
      token: sim.tokens.agent,
      trust: { kind: "fingerprint", sha256: sim.fingerprint },
      taskPoll: { initialMs: 20, factor: 1.5, maxMs: 100 },
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    this.desired = cachedDesiredProvider(this.store.desired);
    this.engine = this.makeEngine();
    this.reconciler = this.makeReconciler();
  }

  static async start(simOpts: PveSimOptions = {}, opts: RigOptions = {}): Promise<Rig> {
    const sim = await startPveSimulator({ taskMs: 60, authFailDelayMs: 0, ...simOpts });
    return new Rig(
      sim,
      { concurrency: opts.concurrency ?? 4, ...opts },
      opts.logger ?? silentLogger,
    );
  }

  makeEngine(hooks?: EngineHooks): Engine {
    return new Engine({
      store: this.store,
      client: this.client,
      gate:
        this.opts.makeGate?.(this.store) ?? this.opts.gate ?? unsignedGate(this.store, this.clock),
      concurrency: this.opts.concurrency,
      clock: this.clock,
      logger: this.logger,
      taskDeadlineMs: 20_000,
      ...this.opts.engine,
      desiredGuest: (vmid) => {
        const cached = this.store.desired.get();
        return cached ? parseDesiredText(cached.document, "test").guests.get(vmid) : undefined;
      },
      ...((hooks ?? this.opts.hooks) ? { hooks: hooks ?? this.opts.hooks } : {}),
    });
  }

  makeReconciler(): Reconciler {
    return new Reconciler({
      engine: this.engine,
      client: this.client,
      desired: this.desired,
      clock: this.clock,
      logger: this.logger,
      readConcurrency: 8,
      retry: { ...actionRetry(3), baseMs: 0 },
      overrides: storeOverrideBook(this.store, this.logger),
    });
  }

  /** What a restart leaves: the engine stops, the database is reopened, a new engine. */
  async restart(): Promise<void> {
    await this.engine.stop();
    this.store.close();
    this.store = openStore({ path: join(this.dir, "state.db"), clock: this.clock });
    this.desired = cachedDesiredProvider(this.store.desired);
    this.engine = this.makeEngine();
    this.reconciler = this.makeReconciler();
  }

  setDesired(doc: unknown): void {
    this.store.desired.put({ document: JSON.stringify(doc), source: "test" });
  }

  async close(): Promise<void> {
    await this.engine.stop();
    this.client.close();
    this.store.close();
    await this.sim.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
