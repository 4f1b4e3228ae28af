import type { HubJobRecord } from "../store/hub-jobs.ts";
import { OUTBOX_KIND_JOB_RESULT } from "./ports.ts";
import type { JobResult, JobResultState } from "./protocol.ts";

/**
 * What the agent remembers about each hub job, so that a job is submitted once and each of its
 * results is queued for delivery once, across restarts. It lives in the state store
 * (src/store/README.md#hub-job-ledger); a result is queued in the outbox (kind `job_result`,
 * never dropped) and noted here in one commit.
 */
export interface JobLedgerEntry {
  jobId: string;
  /** Set once the submitter has accepted the request. */
  operationId?: string;
  /** The submission carried the operator's signed envelope. */
  signed: boolean;
  /** Result states already queued for delivery, in order. */
  reported: JobResultState[];
  /** ok, failed or rejected was queued: nothing more will happen for this job. */
  terminal: boolean;
  updatedAt: number;
}

export interface JobLedger {
  get(jobId: string): JobLedgerEntry | undefined;
  put(entry: JobLedgerEntry): void;
  /** Entries still waiting for an outcome, oldest first. */
  open(): JobLedgerEntry[];
  /**
   * Queues `result` for the hub and notes `entry` (its `reported` ending with `result.state`)
   * in one commit. False, and nothing written, when that state was queued already.
   */
  queueResult(entry: JobLedgerEntry, result: JobResult): boolean;
}

/** What the store's `hubJobs` repository offers; see src/store/hub-jobs.ts. */
export interface HubJobsPort {
  get(jobId: string): HubJobRecord | undefined;
  put(record: HubJobRecord): void;
  open(): HubJobRecord[];
  queueResult(record: HubJobRecord, item: { kind: string; body: unknown }): boolean;
}

/** The ledger over the store's `hub_jobs` table. */
export function storeJobLedger(jobs: HubJobsPort): JobLedger {
  return {
    get: (jobId) => jobs.get(jobId),
    put: (entry) => jobs.put(entry),
    open: () => jobs.open(),
    queueResult: (entry, result) =>
      jobs.queueResult(entry, { kind: OUTBOX_KIND_JOB_RESULT, body: result }),
  };
}
