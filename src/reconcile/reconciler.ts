import type { Logger } from "../log/types.ts";
import type { OperationStatus } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Clock } from "../util/clock.ts";
import { type Action, actionToRequest, describeAction } from "./actions.ts";
import type { DesiredProvider } from "./desired-provider.ts";
import type { Engine } from "./engine.ts";
import { type Plan, type PlanSkip, planActions } from "./planner.ts";
import { readActualState } from "./read-actual.ts";
import { defaultRetryPolicy, type RetryPolicy, retryVerdict } from "./retry-book.ts";

export interface ReconcilerOptions {
  engine: Engine;
  client: Pick<ProxmoxClient, "listLXC" | "guestConfig">;
  desired: DesiredProvider;
  clock: Clock;
  logger: Logger;
  /** Parallel config reads while gathering actual state. */
  readConcurrency: number;
  retry?: RetryPolicy;
  /** Sees each plan before it is submitted (the demo prints it). */
  onPlan?: (plan: Plan) => void;
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
  done: number;
  failed: number;
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
    const read = await readActualState(this.opts.client, desired, {
      concurrency: this.opts.readConcurrency,
      ...(signal ? { signal } : {}),
    });
    const plan = planActions(desired, read.actual, engine.busyGuests());
    this.opts.onPlan?.(plan);
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
    const report: PassReport = {
      haveDesired: plan.haveDesired,
      guestsSeen: read.actual.guests.size,
      managed: desired?.guests.size ?? 0,
      configReads: read.configReads,
      planned: plan.actions,
      skipped: plan.skipped,
      held,
      results,
      done: results.filter((r) => r.state === "done").length,
      failed: results.filter((r) => r.state !== "done").length,
      durationMs: clock.now() - started,
    };
    logger.info("reconcile pass", {
      desired: report.haveDesired ? "present" : "none",
      guests_seen: report.guestsSeen,
      managed: report.managed,
      config_reads: report.configReads,
      planned: report.planned.length,
      done: report.done,
      failed: report.failed,
      held: held.length,
      skipped: report.skipped.length,
      duration_ms: report.durationMs,
    });
    return report;
  }
}
