import type { Logger } from "../log/types.ts";
import type { OperationSubmitter } from "../ops/types.ts";
import { cachedDesiredProvider, type DesiredProvider } from "../reconcile/desired-provider.ts";
import type { Clock } from "../util/clock.ts";
import { nextPollDelay, type PollTiming } from "./backoff.ts";
import type { HubClient, HubCredentials } from "./client.ts";
import { HubHttpError, HubPayloadError, isRetryableHubError } from "./errors.ts";
import type { JobLedger } from "./job-ledger.ts";
import { JobRunner } from "./jobs.ts";
import {
  type AuditFeedPort,
  type DesiredCachePort,
  OUTBOX_KIND_JOB_RESULT,
  OUTBOX_KIND_TELEMETRY,
  type OutboxPort,
} from "./ports.ts";
import type { JobResult, StatusReport, WireAuditRow } from "./protocol.ts";
import type { StatusReportBody } from "./report-collector.ts";

export interface HubLinkDeps {
  client: HubClient;
  creds: HubCredentials;
  desiredCache: DesiredCachePort;
  outbox: OutboxPort;
  audit: AuditFeedPort;
  ledger: JobLedger;
  submitter: OperationSubmitter;
  /** Builds one status report; called every report interval, also while the hub is down. */
  collectReport: () => Promise<StatusReportBody>;
  timing: PollTiming & { reportIntervalMs: number };
  /**
   * How long audit rows the hub acknowledged are kept before they are pruned down to an anchor
   * (src/store/README.md#audit-chain); undefined = never pruned.
   */
  auditRetentionMs?: number;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export interface CycleResult {
  /** Every hub request of the cycle succeeded (or was a clean 304). */
  reachable: boolean;
  desiredChanged: boolean;
  jobsSeen: number;
  delivered: { reports: number; results: number; audit: number };
  /** What the next wait will be. */
  nextDelayMs: number;
}

export interface HubLinkStatus {
  consecutiveFailures: number;
  lastSuccessAt?: number;
  lastError?: string;
}

// Pruning is housekeeping: once an hour is plenty, and keeps the write lock free otherwise.
const PRUNE_EVERY_MS = 3_600_000;

// Per POST: small enough for a slow link, large enough to drain an outage's backlog quickly.
const BATCH = 50;
const AUDIT_BATCH = 500;

/**
 * The agent's side of the hub link: one cycle polls desired state and jobs (ETag), hands jobs
 * to the submitter, queues a status report when due, and drains the outbox in order. A cycle
 * never throws: an unreachable hub means back-off and a later cycle, never a crash or restart.
 */
export class HubLink {
  /** Feeds the reconciler: the document last persisted from the hub, and a change signal. */
  readonly provider: DesiredProvider & { notify(): void };
  private readonly jobs: JobRunner;
  private jobsEtag: string | undefined;
  private lastReportAt: number | undefined;
  private lastPruneAt: number | undefined;
  private readonly st: HubLinkStatus = { consecutiveFailures: 0 };

  constructor(private readonly deps: HubLinkDeps) {
    this.provider = cachedDesiredProvider(deps.desiredCache);
    this.jobs = new JobRunner({
      submitter: deps.submitter,
      ledger: deps.ledger,
      clock: deps.clock,
      logger: deps.logger,
    });
  }

  status(): HubLinkStatus {
    return { ...this.st };
  }

  async cycle(): Promise<CycleResult> {
    const out: CycleResult = {
      reachable: true,
      desiredChanged: false,
      jobsSeen: 0,
      delivered: { reports: 0, results: 0, audit: 0 },
      nextDelayMs: 0,
    };
    await this.guard("report", () => this.maybeQueueReport());
    await this.guard("job tracking", () => this.jobs.track());
    out.reachable =
      (await this.step("desired state", () => this.pollDesired(out))) &&
      (await this.step("jobs", () => this.pollJobs(out)));
    // Outcomes reached during this cycle are queued before delivery, so they go out now.
    await this.guard("job tracking", () => this.jobs.track());
    if (out.reachable) out.reachable = await this.step("delivery", () => this.deliver(out));
    if (out.reachable) await this.guard("audit pruning", async () => this.maybePruneAudit());
    if (out.reachable) {
      this.st.consecutiveFailures = 0;
      this.st.lastSuccessAt = this.deps.clock.now();
    } else {
      this.st.consecutiveFailures++;
    }
    out.nextDelayMs = nextPollDelay(
      this.deps.timing,
      this.st.consecutiveFailures,
      this.deps.random ?? Math.random,
    );
    return out;
  }

  /** Cycles until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const r = await this.cycle();
      try {
        await this.deps.clock.sleep(r.nextDelayMs, signal);
      } catch {
        return;
      }
    }
  }

  /** A hub-facing step: false means the hub is unreachable and the cycle should stop. */
  private async step(what: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      this.st.lastError = message;
      if (isRetryableHubError(err)) {
        this.deps.logger.warn(`hub unreachable during ${what}; backing off`, {
          error: message,
          failures: this.st.consecutiveFailures + 1,
        });
        return false;
      }
      if (err instanceof HubHttpError && err.code === "audit_chain_broken") {
        // The rows stay queued: the hub holds a chain this log does not continue, which is
        // what a rewritten or replaced audit log looks like (docs/hub-protocol.md#the-hub-is-the-audit-logs-anchor).
        this.deps.logger.error(
          `hub refused the audit rows during ${what}: they do not continue the chain it holds; check the log with felhom-agent audit verify`,
          { status: err.status, error: message },
        );
        return false;
      }
      if (err instanceof HubHttpError && (err.status === 401 || err.status === 403)) {
        this.deps.logger.error(
          `hub refused this host's credentials during ${what}; re-enrollment may be needed`,
          {
            status: err.status,
            code: err.code,
          },
        );
        return false;
      }
      this.deps.logger.error(`hub ${what} failed`, { error: message });
      return false;
    }
  }

  /** A local step: logged, never stops the cycle. */
  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.deps.logger.error(`${what} failed`, { error: (err as Error)?.message ?? String(err) });
    }
  }

  private async pollDesired(out: CycleResult): Promise<void> {
    let fetched: Awaited<ReturnType<HubClient["desired"]>>;
    try {
      fetched = await this.deps.client.desired(
        this.deps.creds,
        this.deps.desiredCache.get()?.etag ?? undefined,
      );
    } catch (err) {
      if (err instanceof HubPayloadError) {
        this.deps.logger.warn(
          "malformed desired state from the hub skipped; keeping the last good one",
          {
            issues: err.issues.slice(0, 10),
          },
        );
        return;
      }
      // Nothing assigned yet is "no desired state", not an empty one (docs/architecture.md#no-desired-state-is-not-an-empty-one).
      if (err instanceof HubHttpError && err.status === 404) return;
      throw err;
    }
    if (!fetched.changed) return;
    // Persisted before anyone is told, so a restart plans against it too.
    this.deps.desiredCache.put({
      document: fetched.text,
      source: "hub",
      etag: fetched.etag ?? null,
    });
    this.provider.notify();
    out.desiredChanged = true;
    this.deps.logger.info("new desired state from the hub", {
      etag: fetched.etag,
      guests: Object.keys(fetched.value.guests).length,
    });
  }

  private async pollJobs(out: CycleResult): Promise<void> {
    let fetched: Awaited<ReturnType<HubClient["jobs"]>>;
    try {
      fetched = await this.deps.client.jobs(this.deps.creds, this.jobsEtag);
    } catch (err) {
      if (err instanceof HubPayloadError) {
        this.deps.logger.warn("malformed job list from the hub skipped", {
          issues: err.issues.slice(0, 10),
        });
        return;
      }
      throw err;
    }
    if (!fetched.changed) return;
    out.jobsSeen = fetched.value.jobs.length;
    await this.jobs.take(fetched.value.jobs);
    // Remembered only after every job was handed over: a crash before re-fetches the list.
    this.jobsEtag = fetched.etag;
  }

  /** Only after a delivery that reached the hub: what goes has been acknowledged there. */
  private maybePruneAudit(): void {
    const retention = this.deps.auditRetentionMs;
    const audit = this.deps.audit;
    if (retention === undefined || audit.prune === undefined) return;
    const now = this.deps.clock.now();
    if (this.lastPruneAt !== undefined && now - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    const r = audit.prune({ olderThanTs: Math.max(0, now - retention) });
    if (r.pruned > 0) {
      this.deps.logger.info("audit rows the hub holds pruned past the retention", {
        pruned: r.pruned,
        anchor_seq: r.anchorSeq,
      });
    }
  }

  private async maybeQueueReport(): Promise<void> {
    const now = this.deps.clock.now();
    if (
      this.lastReportAt !== undefined &&
      now - this.lastReportAt < this.deps.timing.reportIntervalMs
    )
      return;
    this.lastReportAt = now;
    const head = this.deps.audit.head();
    // The head when the snapshot was taken, so the hub can tell a log rewritten after it
    // received rows from the one it holds (docs/hub-protocol.md#the-hub-is-the-audit-logs-anchor).
    const body: StatusReportBody = {
      ...(await this.deps.collectReport()),
      audit_head: { seq: head.seq, hash: head.hash },
    };
    const { dropped } = this.deps.outbox.enqueue(OUTBOX_KIND_TELEMETRY, body);
    if (dropped > 0)
      this.deps.logger.warn("report outbox full: oldest telemetry dropped", { dropped });
  }

  /** Outbox in id order, in runs of one kind; audit rows ride along with the reports POST. */
  private async deliver(out: CycleResult): Promise<void> {
    for (;;) {
      const items = this.deps.outbox.peek(BATCH);
      const first = items[0];
      if (!first) break;
      const run = [];
      for (const it of items) {
        if (it.kind !== first.kind) break;
        run.push(it);
      }
      if (first.kind === OUTBOX_KIND_JOB_RESULT) {
        await this.deps.client.postJobResults(
          this.deps.creds,
          run.map((i) => i.body as JobResult),
        );
        out.delivered.results += run.length;
      } else if (first.kind === OUTBOX_KIND_TELEMETRY) {
        const reports = run.map(
          (i) => ({ ...(i.body as StatusReportBody), seq: i.id }) as StatusReport,
        );
        out.delivered.audit += await this.postWithAudit(reports);
        out.delivered.reports += run.length;
      } else {
        this.deps.logger.warn("outbox item of an unknown kind dropped", {
          kind: first.kind,
          id: first.id,
        });
      }
      this.deps.outbox.ack(run.map((i) => i.id));
    }
    // Audit rows written since the last report still go out now.
    for (let n = await this.postWithAudit([]); n > 0; n = await this.postWithAudit([])) {
      out.delivered.audit += n;
    }
  }

  private async postWithAudit(reports: StatusReport[]): Promise<number> {
    const rows = this.deps.audit.undelivered(AUDIT_BATCH);
    if (reports.length === 0 && rows.length === 0) return 0;
    const audit: WireAuditRow[] = rows.map((r) => ({
      seq: r.seq,
      ts: r.ts,
      actor: r.actor,
      action: r.action,
      target: r.target,
      outcome: r.outcome,
      details: r.details,
      prev_hash: r.prevHash,
      hash: r.hash,
    }));
    await this.deps.client.postReports(this.deps.creds, { reports, audit });
    const last = rows.at(-1);
    if (last) this.deps.audit.markDelivered(last.seq);
    return rows.length;
  }
}
