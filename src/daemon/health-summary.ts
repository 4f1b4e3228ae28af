import type { HubLinkStatus } from "../hub/link.ts";
import type { Logger } from "../log/types.ts";
import { type PassReport, passIsIdle } from "../reconcile/reconciler.ts";
import type { Clock } from "../util/clock.ts";

export interface HealthSummaryOptions {
  clock: Clock;
  logger: Logger;
  /** Minutes between summaries; 0 turns them off. */
  intervalMin: number;
  /** Operations held for a signature right now. */
  pendingSignatures: () => number;
  /** The hub link's state; absent on a host that is not enrolled. */
  hub?: () => HubLinkStatus;
  version: string;
}

interface Window {
  startedAt: number;
  passes: number;
  idlePasses: number;
  passErrors: number;
  done: number;
  failed: number;
  last?: PassReport;
}

/**
 * One info line every `intervalMin` minutes that says the daemon is alive and what it did
 * meanwhile, since idle passes log at debug (docs/architecture.md#logs). Driven by the passes
 * themselves (no timer of its own): a summary is due at the first pass after the interval, so
 * it is at most one pass interval late, and a daemon that stopped passing stops summarising,
 * which is itself the signal.
 */
export class HealthSummary {
  private readonly startedAt: number;
  private window: Window;

  constructor(private readonly o: HealthSummaryOptions) {
    this.startedAt = o.clock.now();
    this.window = this.fresh(this.startedAt);
  }

  pass(report: PassReport): void {
    const w = this.window;
    w.passes++;
    if (passIsIdle(report)) w.idlePasses++;
    w.done += report.done;
    w.failed += report.failed;
    w.last = report;
    this.maybeLog();
  }

  passError(): void {
    this.window.passErrors++;
    this.maybeLog();
  }

  private hubFields(): Record<string, unknown> {
    if (this.o.hub === undefined) return { hub: "not_enrolled" };
    const h = this.o.hub();
    return {
      hub: h.consecutiveFailures === 0 ? "reachable" : "unreachable",
      hub_failures: h.consecutiveFailures,
      hub_last_success:
        h.lastSuccessAt === undefined ? null : new Date(h.lastSuccessAt).toISOString(),
    };
  }

  private fresh(at: number): Window {
    return { startedAt: at, passes: 0, idlePasses: 0, passErrors: 0, done: 0, failed: 0 };
  }

  private maybeLog(): void {
    const intervalMs = this.o.intervalMin * 60_000;
    const now = this.o.clock.now();
    if (intervalMs === 0 || now - this.window.startedAt < intervalMs) return;
    const w = this.window;
    const last = w.last;
    this.o.logger.info("health summary", {
      version: this.o.version,
      uptime_s: Math.floor((now - this.startedAt) / 1000),
      window_s: Math.floor((now - w.startedAt) / 1000),
      passes: w.passes,
      idle_passes: w.idlePasses,
      pass_errors: w.passErrors,
      operations_done: w.done,
      operations_failed: w.failed,
      desired: last === undefined ? "unknown" : last.haveDesired ? "present" : "none",
      guests_seen: last?.guestsSeen ?? null,
      managed: last?.managed ?? null,
      held: last?.held.length ?? 0,
      hung: last?.hung.length ?? 0,
      pending_signatures: this.o.pendingSignatures(),
      ...this.hubFields(),
    });
    this.window = this.fresh(now);
  }
}
