import type { Gate } from "../gate/seam.ts";
import type { Logger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { ClockOffsetSource } from "../reconcile/clock-offset.ts";
import type { ReconcileConfig } from "../reconcile/config-section.ts";
import type { DesiredProvider } from "../reconcile/desired-provider.ts";
import type { DesiredGuestSpec } from "../reconcile/desired-state.ts";
import { Engine, type EngineClient, type EngineHooks } from "../reconcile/engine.ts";
import type { ExecSecrets } from "../reconcile/executors.ts";
import { storeOverrideBook } from "../reconcile/override-book.ts";
import type { Plan } from "../reconcile/planner.ts";
import { quickResend } from "../reconcile/quick-retry.ts";
import { type PassReport, Reconciler } from "../reconcile/reconciler.ts";
import { actionRetry } from "../reconcile/retry-book.ts";
import type { HostOpDeps } from "../reconcile/storage-executors.ts";
import type { StoragePassOptions } from "../reconcile/storage-pass.ts";
import type { Store } from "../store/store.ts";
import { type Backoff, backoffDelayMs, stepDelayMs } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";
import { DesiredLookups } from "./desired-lookups.ts";
import { WakeSignal } from "./wake-signal.ts";

export interface ReconcileDaemonOptions {
  store: Store;
  client: EngineClient & Pick<ProxmoxClient, "listLXC" | "guestConfig">;
  gate: Gate;
  desired: DesiredProvider;
  config: ReconcileConfig;
  clock: Clock;
  logger: Logger;
  /** [0, 1); jitter source. */
  random?: () => number;
  /**
   * Knows the Proxmox node's clock offset already (from answers the client read); without it
   * the engine measures it when it needs it (docs/reconcile.md#clock-offset).
   */
  clockOffset?: ClockOffsetSource;
  hooks?: EngineHooks;
  /**
   * The guest's persisted desired spec, read when a local-API grow is journaled (the guest's
   * own request is recorded against it). Default: parsed from the store's desired cache.
   */
  desiredGuest?: (vmid: number) => DesiredGuestSpec | undefined;
  onPlan?: (plan: Plan) => void;
  onPass?: (report: PassReport) => void;
  /**
   * Runs before recovery and before every pass. A throw stops the daemon (the loop ends and
   * the error is rethrown): used for checks after which nothing may mutate any more.
   */
  beforePass?: () => void;
  /** A pass that could not complete (Proxmox unreachable, …); the loop goes on. */
  onPassError?: (err: unknown) => void;
  /** Called once recovery is complete and before the first pass (the engine takes requests). */
  onReady?: (engine: Engine) => void;
  /** Host operations that call Proxmox (storage.add, storage.remove); refused without. */
  hostOps?: HostOpDeps;
  /** Secrets operation params only name (the bootstrap codes of new guests). */
  secrets?: ExecSecrets;
  /** Reconcile the desired state's backup targets each pass. */
  storage?: Pick<StoragePassOptions, "client" | "mounts" | "presence">;
}

/**
 * Waits between recovery attempts while Proxmox cannot be reached: quick at first (a restart
 * of pveproxy takes seconds), then every 30 s. Chosen by hand, not grown by a factor.
 */
const RECOVERY_RETRY_MS = [1000, 2000, 5000, 10_000, 30_000] as const;

/**
 * The wait between passes: the interval spread over `jitter_pct` % of itself in all (± half
 * of it), so hosts started together do not pass in step; it does not grow.
 */
export function passInterval(config: Pick<ReconcileConfig, "interval_s" | "jitter_pct">): Backoff {
  return {
    baseMs: config.interval_s * 1000,
    factor: 1,
    capMs: Number.POSITIVE_INFINITY,
    jitter: { kind: "spread", pct: config.jitter_pct / 2 },
  };
}

/**
 * The daemon's loop: recover every in-flight journal entry before anything mutates, then pass
 * after pass (interval + jitter, or at once when desired state changes) until `signal`
 * aborts. On abort the engine stops waiting (journaled UPIDs resume at the next start),
 * queued work is dropped unstarted, and this resolves.
 */
export async function runReconcileDaemon(
  opts: ReconcileDaemonOptions,
  signal: AbortSignal,
): Promise<void> {
  const { clock, logger, config } = opts;
  const wake = new WakeSignal();
  const engine = new Engine({
    store: opts.store,
    client: opts.client,
    gate: opts.gate,
    concurrency: config.concurrency,
    clock,
    logger,
    taskDeadlineMs: config.task_timeout_s * 1000,
    unknownWindowMs: config.unknown_window_s * 1000,
    hungTaskMs: config.hung_task_s * 1000,
    quickRetry: quickResend(config.post_retries),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.clockOffset ? { clockOffset: opts.clockOffset } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.hostOps ? { hostOps: opts.hostOps } : {}),
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
    desiredGuest: opts.desiredGuest ?? defaultDesiredGuest(opts.store, logger),
    // A finished operation changed actual state: look again now rather than after the interval.
    onSettled: () => wake.wake(),
  });
  const stopEngine = () => void engine.stop();
  signal.addEventListener("abort", stopEngine, { once: true });
  try {
    opts.beforePass?.();
    if (!(await recover(engine, clock, logger, signal))) return;
    opts.onReady?.(engine);
    const unsubscribe = opts.desired.onChange(() => wake.wake());
    const reconciler = new Reconciler({
      engine,
      client: opts.client,
      desired: opts.desired,
      clock,
      logger,
      readConcurrency: config.read_concurrency,
      retry: actionRetry(config.max_attempts),
      overrides: storeOverrideBook(opts.store, logger),
      ...(opts.storage ? { storage: opts.storage } : {}),
      ...(opts.onPlan ? { onPlan: opts.onPlan } : {}),
    });
    const random = opts.random ?? Math.random;
    try {
      while (!signal.aborted) {
        opts.beforePass?.();
        try {
          const report = await reconciler.runPass(signal);
          opts.onPass?.(report);
        } catch (err) {
          if (signal.aborted) break;
          logger.error("reconcile pass failed", { error: err });
          opts.onPassError?.(err);
        }
        await wake.wait(clock, backoffDelayMs(passInterval(config), 0, random), signal);
      }
    } finally {
      unsubscribe();
    }
  } finally {
    signal.removeEventListener("abort", stopEngine);
    await engine.stop();
  }
}

function defaultDesiredGuest(
  store: Store,
  logger: Logger,
): (vmid: number) => DesiredGuestSpec | undefined {
  const lookups = new DesiredLookups(store.desired, logger);
  return (vmid) => lookups.specFor(vmid);
}

/** Retries until the journal is settled: nothing may mutate while an outcome is unknown. */
async function recover(
  engine: Engine,
  clock: Clock,
  logger: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const resolved = await engine.resolve("recovery");
      logger.info("recovery complete", {
        resolved: resolved.length,
        done: resolved.filter((r) => r.kind === "done").length,
        failed: resolved.filter((r) => r.kind === "failed").length,
        abandoned: resolved.filter((r) => r.kind === "abandoned").length,
        resumed: resolved.filter((r) => r.kind === "resume_wait").length,
        // Lost answers whose task may still appear: their guests wait while it is looked for.
        unknown: resolved.filter((r) => r.kind === "unknown").length,
      });
      return true;
    } catch (err) {
      const delay = stepDelayMs(RECOVERY_RETRY_MS, attempt);
      logger.error("recovery could not reach Proxmox; nothing mutates until it succeeds", {
        error: err,
        retry_in_ms: delay,
      });
      await clock.sleep(delay, signal).catch(() => {});
    }
  }
  return false;
}
