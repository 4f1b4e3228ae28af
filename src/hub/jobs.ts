import type { Logger } from "../log/types.ts";
import type { OperationState, OperationStatus, OperationSubmitter } from "../ops/types.ts";
import type { Clock } from "../util/clock.ts";
import type { JobLedger, JobLedgerEntry } from "./job-ledger.ts";
import {
  type HubJob,
  hubJobSchema,
  type JobResult,
  type JobResultState,
  jobIdSchema,
} from "./protocol.ts";

export interface JobRunnerDeps {
  submitter: OperationSubmitter;
  ledger: JobLedger;
  clock: Clock;
  logger: Logger;
}

const RESULT_OF: Partial<Record<OperationState, JobResultState>> = {
  done: "ok",
  failed: "failed",
  pending_signature: "pending_signature",
  rejected: "rejected",
};

/**
 * Turns hub jobs into OperationRequests through the one submitter seam (queue, gate, journal)
 * and queues each outcome for the hub once. The agent never decides here whether a job is
 * destructive or whether its signature holds: the gate does, and says so in the status.
 */
export class JobRunner {
  constructor(private readonly deps: JobRunnerDeps) {}

  /** Handles one fetched job list: every element is checked on its own. */
  async take(rawJobs: readonly unknown[]): Promise<void> {
    for (const raw of rawJobs) {
      const parsed = hubJobSchema.safeParse(raw);
      if (!parsed.success) {
        this.refuseMalformed(raw, parsed.error.issues);
        continue;
      }
      try {
        await this.takeOne(parsed.data);
      } catch (err) {
        this.deps.logger.error("hub job could not be submitted; it is retried on the next poll", {
          jobId: parsed.data.id,
          op: parsed.data.op,
          error: (err as Error)?.message ?? String(err),
        });
      }
    }
  }

  /** Asks the submitter how open jobs are doing; queues any outcome not reported yet. */
  async track(): Promise<void> {
    for (const entry of this.deps.ledger.open()) {
      if (entry.operationId === undefined) continue;
      const status = this.deps.submitter.status(entry.operationId);
      if (status === undefined) {
        // The journal recovers in-flight work at start-up, so an unknown id means the record is
        // gone: say so rather than let the hub wait forever.
        this.report(entry, "failed", {
          reason: "the agent no longer knows this operation's outcome; check the audit log",
          operation_id: entry.operationId,
        });
        continue;
      }
      this.settle(entry, status);
    }
  }

  private async takeOne(job: HubJob): Promise<void> {
    const entry = this.deps.ledger.get(job.id);
    if (entry?.terminal) return;
    const signed = job.envelope !== undefined;
    // Submitted already, and nothing new (an envelope) arrived since.
    if (entry?.operationId !== undefined && (entry.signed || !signed)) return;
    const next: JobLedgerEntry = {
      jobId: job.id,
      signed,
      reported: entry?.reported ?? [],
      terminal: false,
      updatedAt: this.deps.clock.now(),
    };
    // Noted before submitting: after a crash in between, the job is submitted again with the
    // same job id, which the submitter treats as the same job (the store holds a job once).
    this.deps.ledger.put(next);
    const status = await this.deps.submitter.submit({
      op: job.op,
      ...(job.vmid !== undefined ? { vmid: job.vmid } : {}),
      params: job.params,
      origin: "job",
      jobId: job.id,
      ...(job.envelope !== undefined ? { envelope: job.envelope } : {}),
      priority: "interactive",
    });
    next.operationId = status.id;
    next.updatedAt = this.deps.clock.now();
    this.deps.ledger.put(next);
    this.deps.logger.info("hub job submitted", {
      jobId: job.id,
      op: job.op,
      vmid: job.vmid,
      state: status.state,
    });
    this.settle(next, status);
  }

  private settle(entry: JobLedgerEntry, status: OperationStatus): void {
    const state = RESULT_OF[status.state];
    if (state === undefined) return;
    this.report(entry, state, {
      operation_id: status.id,
      ...(status.reason !== undefined ? { reason: status.reason } : {}),
      ...(status.upid !== undefined ? { upid: status.upid } : {}),
      ...(status.result !== undefined ? { result: status.result } : {}),
    });
  }

  private report(
    entry: JobLedgerEntry,
    state: JobResultState,
    extra: Omit<JobResult, "job_id" | "state" | "at">,
  ): void {
    if (entry.reported.includes(state)) return;
    const result: JobResult = {
      job_id: entry.jobId,
      state,
      ...extra,
      at: new Date(this.deps.clock.now()).toISOString(),
    };
    const next: JobLedgerEntry = {
      ...entry,
      reported: [...entry.reported, state],
      terminal: state !== "pending_signature",
      updatedAt: this.deps.clock.now(),
    };
    // Queued and noted in one commit (src/store/README.md#hub-job-ledger): a crash cannot
    // leave a queued result un-noted, which the next start would queue again.
    this.deps.ledger.queueResult(next, result);
  }

  private refuseMalformed(
    raw: unknown,
    issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
  ): void {
    const where = issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join(".") || "(job)"}: ${i.message}`);
    const id = jobIdSchema.safeParse((raw as { id?: unknown } | null)?.id);
    // Only field paths and rule texts are logged: params may carry anything.
    this.deps.logger.warn("malformed hub job skipped", {
      jobId: id.success ? id.data : undefined,
      issues: where,
    });
    if (!id.success) return;
    const entry = this.deps.ledger.get(id.data) ?? {
      jobId: id.data,
      signed: false,
      reported: [],
      terminal: false,
      updatedAt: this.deps.clock.now(),
    };
    if (entry.terminal || entry.operationId !== undefined) return;
    this.report(entry, "rejected", {
      reason: `malformed: ${where.join("; ")}`.slice(0, 1024),
    });
  }
}
