import type { Logger } from "../log/types.ts";
import type { OperationStatus } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { GuestOverride } from "../store/guest-overrides.ts";
import type { RetryPolicy } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";
import { type Action, actionToRequest, describeAction } from "./actions.ts";
import type { DesiredProvider } from "./desired-provider.ts";
import type { Engine } from "./engine.ts";
import type { HungTask } from "./hang-watch.ts";
import type { OverrideBook } from "./override-book.ts";
import type { OverrideVoid } from "./overrides.ts";
import { type Plan, type PlanSkip, planActions } from "./planner.ts";
import { readActualState } from "./read-actual.ts";
import { defaultRetryPolicy, retryVerdict } from "./retry-book.ts";
import { runStoragePass, type StoragePassOptions, type StoragePlan } from "./storage-pass.ts";

export interface ReconcilerOptions {
  engine: Engine;
  client: Pick<ProxmoxClient, "listLXC" | "guestConfig">;
  desired: DesiredProvider;
  clock: Clock;
  logger: Logger;
  /** Parallel config reads while gathering actual state. */
  readConcurrency: number;
  retry?: RetryPolicy;
  /**
   * The guests' own grows through the local API; without it every grow is drift and is
   * planned back to desired state.
   */
  overrides?: OverrideBook;
  /** Sees each plan before it is submitted (the demo prints it). */
  onPlan?: (plan: Plan) => void;
  /** Backup targets are reconciled too when set (docs/reconcile.md#host-operations). */
  storage?: Pick<StoragePassOptions, "client" | "mounts" | "presence">;
}

export interface HeldAction {
  action: Action;
  verdict: "backoff" | "gave_up";
  detail: string;
}

export interface PassReport {
  haveDesired: boolean;
  guestsSeen: number;
  managed: number;
  configReads: number;
  planned: Action[];
  skipped: PlanSkip[];
  /** Actions the retry book kept back (backing off, or given up on until desired changes). */
  held: HeldAction[];
  results: OperationStatus[];
  /** The guests' own grows: kept this pass, or withdrawn because desired state moved on. */
  overrides: { standing: GuestOverride[]; voided: OverrideVoid[] };
  done: number;
  failed: number;
  /** Tasks still running past the hang deadline; their guests wait, the others go on. */
  hung: HungTask[];
  /** The backup-target pass, when the reconciler has one. */
  storage?: { plan: StoragePlan; results: OperationStatus[] };
  durationMs: number;
}

/**
 * One level-triggered pass (STYLE: balena applyTarget): read desired and actual state afresh,
 * plan, submit through the engine, wait for the batch. No diff is remembered between passes;
 * the journal alone decides whether a failing action may be tried again.
 */
export class Reconciler {
  constructor(private readonly opts: ReconcilerOptions) {}

  async runPass(signal?: AbortSignal): Promise<PassReport> {
    const { engine, clock, logger } = this.opts;
    const started = clock.now();
    // Anything left in flight (a lost answer, a task past its wait deadline) is settled first.
    await engine.resolve("pass");
    const desired = await this.opts.desired.current();
    // The busy set before actual state: a guest whose operation ends while state is being read
    // is still skipped this pass, instead of being planned from a read taken mid-operation
    // (a start still running reads `stopped`, and would be sent again). Then the overrides:
    // a grow that is no longer busy has its journal entry settled already, so its override is
    // read here rather than undone as drift.
    const busy = engine.busyGuests();
    const read = await readActualState(this.opts.client, desired, {
      concurrency: this.opts.readConcurrency,
      ...(signal ? { signal } : {}),
    });
    const inForce = this.opts.overrides?.inForce() ?? [];
    const plan = planActions(desired, read.actual, busy, inForce);
    this.opts.onPlan?.(plan);
    const overrides = this.settleOverrides(plan, inForce);
    const held: HeldAction[] = [];
    const submitted: Promise<OperationStatus>[] = [];
    const now = clock.now();
    for (const action of plan.actions) {
      if (signal?.aborted || engine.stopped) break;
      const verdict = retryVerdict(
        engine.journal,
        action.vmid,
        action.op,
        action.params,
        now,
        this.opts.retry ?? defaultRetryPolicy,
        desired?.receivedAt ?? 0,
      );
      if (verdict.kind === "gave_up") {
        held.push({ action, verdict: "gave_up", detail: verdict.reason });
        continue;
      }
      if (verdict.kind === "backoff") {
        held.push({
          action,
          verdict: "backoff",
          detail: `attempt ${verdict.attempt} not before ${new Date(verdict.untilMs).toISOString()}`,
        });
        continue;
      }
      logger.info("action planned", { action: describeAction(action), attempt: verdict.attempt });
      const sub = await engine.enqueue(actionToRequest(action), verdict.attempt);
      submitted.push(sub.settled);
    }
    for (const h of held) {
      if (h.verdict === "gave_up") {
        logger.warn("action given up until desired state changes", {
          action: describeAction(h.action),
          why: h.detail,
        });
      }
    }
    const results = await Promise.all(submitted);
    const storage = await this.storagePass(desired);
    const report: PassReport = {
      haveDesired: plan.haveDesired,
      guestsSeen: read.actual.guests.size,
      managed: desired?.guests.size ?? 0,
      configReads: read.configReads,
      planned: plan.actions,
      skipped: plan.skipped,
      held,
      results,
      overrides,
      done: results.filter((r) => r.state === "done").length,
      failed: results.filter((r) => r.state !== "done").length,
      hung: engine.hungTasks(),
      ...(storage ? { storage } : {}),
      durationMs: clock.now() - started,
    };
    // A pass that found nothing to do, held nothing and saw nothing hang is the common case,
    // every interval of a quiet day: debug, so the journal keeps what changed
    // (docs/architecture.md#logs); the daemon's health summary counts these passes.
    const level = passIsIdle(report) ? "debug" : "info";
    logger[level]("reconcile pass", {
      desired: report.haveDesired ? "present" : "none",
      guests_seen: report.guestsSeen,
      managed: report.managed,
      config_reads: report.configReads,
      planned: report.planned.length,
      done: report.done,
      failed: report.failed,
      held: held.length,
      hung: report.hung.length,
      skipped: report.skipped.length,
      overrides_standing: overrides.standing.length,
      overrides_withdrawn: overrides.voided.length,
      duration_ms: report.durationMs,
    });
    return report;
  }

  /** Void overrides are forgotten before their field is planned back; standing ones reported. */
  /** The backup targets: a failure to read them is logged, never the end of the pass. */
  private async storagePass(
    desired: Awaited<ReturnType<DesiredProvider["current"]>>,
  ): Promise<{ plan: StoragePlan; results: OperationStatus[] } | undefined> {
    const { storage, engine, clock, logger } = this.opts;
    if (storage === undefined || engine.stopped) return undefined;
    try {
      const r = await runStoragePass(engine, desired, {
        ...storage,
        retry: this.opts.retry ?? defaultRetryPolicy,
        now: () => clock.now(),
      });
      for (const s of r.plan.skipped)
        logger.info("backup target left as it is", { storage: s.id, why: s.why });
      return r;
    } catch (err) {
      logger.warn("backup targets could not be reconciled this pass", {
        error: (err as Error).message,
      });
      return undefined;
    }
  }

  private settleOverrides(plan: Plan, inForce: GuestOverride[]): PassReport["overrides"] {
    const book = this.opts.overrides;
    if (book === undefined) return { standing: [], voided: [] };
    const key = (o: { journalId: number; field: string }) => `${o.journalId}:${o.field}`;
    const kept = new Set(plan.overrides.standing.map(key));
    const standing = inForce.filter((o) => kept.has(key(o)));
    for (const v of plan.overrides.voided) book.withdraw(v);
    for (const o of standing) book.standing(o);
    return { standing, voided: plan.overrides.voided };
  }
}

/** Nothing planned, held, failed, hung or withdrawn: the pass changed and found nothing new. */
export function passIsIdle(r: PassReport): boolean {
  return (
    r.planned.length === 0 &&
    r.held.length === 0 &&
    r.failed === 0 &&
    r.hung.length === 0 &&
    r.overrides.voided.length === 0
  );
}
