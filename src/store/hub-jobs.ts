import type { Database } from "bun:sqlite";
import { invalidArgument } from "./errors.ts";
import type { Outbox } from "./outbox.ts";

/** The result states a hub job reports, in the hub protocol's words. */
export type HubJobState = "ok" | "failed" | "pending_signature" | "rejected";
const STATES: readonly string[] = ["ok", "failed", "pending_signature", "rejected"];

export interface HubJobRecord {
  jobId: string;
  /** Set once the submitter has accepted the request. */
  operationId?: string;
  /** The submission carried the operator's signed envelope. */
  signed: boolean;
  /** Result states already queued for delivery, in order. */
  reported: HubJobState[];
  /** An outcome (not pending_signature) was queued: nothing more will happen for this job. */
  terminal: boolean;
  updatedAt: number;
}

interface Row {
  job_id: string;
  operation_id: string | null;
  signed: number;
  reported: string;
  terminal: number;
  updated_at: number;
}

// Finished jobs are kept so a hub that serves one again (before it saw the result) is not re-run.
export const HUB_JOBS_KEEP_TERMINAL = 2000;

/**
 * The hub job ledger (src/store/README.md#hub-job-ledger): what the agent remembers about each
 * hub job, so that a job is submitted once and each of its results is queued once, across
 * restarts. `queueResult` queues the result in the outbox and notes it here in one commit.
 */
export class HubJobs {
  constructor(
    private readonly db: Database,
    private readonly outbox: Outbox,
  ) {}

  get(jobId: string): HubJobRecord | undefined {
    const row = this.db
      .query("SELECT * FROM hub_jobs WHERE job_id = $jobId")
      .get({ jobId }) as Row | null;
    return row ? fromRow(row) : undefined;
  }

  /** Jobs still waiting for an outcome, least recently noted first. */
  open(): HubJobRecord[] {
    const rows = this.db
      .query("SELECT * FROM hub_jobs WHERE terminal = 0 ORDER BY updated_at, rowid")
      .all() as Row[];
    return rows.map(fromRow);
  }

  /** Notes `record` (replacing what was noted for its job). */
  put(record: HubJobRecord): void {
    const row = toRow(record);
    this.db
      .transaction(() => {
        this.upsert(row);
        this.trim();
      })
      .immediate();
  }

  /**
   * Queues `item` in the outbox and notes `record`, whose `reported` ends with the state just
   * queued, in ONE transaction: both are on disk or neither is, so a crash can neither lose the
   * result nor queue it a second time after a restart. Returns false, writing nothing, when
   * that state was noted already (a stale copy of the record).
   */
  queueResult(record: HubJobRecord, item: { kind: string; body: unknown }): boolean {
    const row = toRow(record);
    const state = record.reported.at(-1);
    if (state === undefined) {
      throw invalidArgument("a queued result must be the last state of the record's reported list");
    }
    return this.db
      .transaction(() => {
        if (this.get(record.jobId)?.reported.includes(state)) return false;
        this.outbox.enqueue(item.kind, item.body);
        this.upsert(row);
        this.trim();
        return true;
      })
      .immediate();
  }

  /**
   * Notes every record whose job is not noted yet, in one transaction (the import of the ledger
   * file earlier builds kept). Returns how many were new.
   */
  importRecords(records: readonly HubJobRecord[]): number {
    const rows = records.map(toRow);
    return this.db
      .transaction(() => {
        let added = 0;
        const insert = this.db.query(
          `INSERT INTO hub_jobs (job_id, operation_id, signed, reported, terminal, updated_at)
           VALUES ($job_id, $operation_id, $signed, $reported, $terminal, $updated_at)
           ON CONFLICT (job_id) DO NOTHING`,
        );
        for (const row of rows) added += insert.run({ ...row }).changes;
        this.trim();
        return added;
      })
      .immediate();
  }

  private upsert(row: Row): void {
    this.db
      .query(
        `INSERT INTO hub_jobs (job_id, operation_id, signed, reported, terminal, updated_at)
         VALUES ($job_id, $operation_id, $signed, $reported, $terminal, $updated_at)
         ON CONFLICT (job_id) DO UPDATE SET operation_id = excluded.operation_id,
           signed = excluded.signed, reported = excluded.reported,
           terminal = excluded.terminal, updated_at = excluded.updated_at`,
      )
      .run({ ...row });
  }

  private trim(): void {
    this.db
      .query(
        `DELETE FROM hub_jobs WHERE terminal = 1 AND job_id NOT IN
           (SELECT job_id FROM hub_jobs WHERE terminal = 1
            ORDER BY updated_at DESC, rowid DESC LIMIT $keep)`,
      )
      .run({ keep: HUB_JOBS_KEEP_TERMINAL });
  }
}

function toRow(r: HubJobRecord): Row {
  if (typeof r.jobId !== "string" || r.jobId.length < 1 || r.jobId.length > 128) {
    throw invalidArgument("hub job id must be 1..128 characters");
  }
  for (const s of r.reported) {
    if (!STATES.includes(s)) throw invalidArgument(`unknown hub job state ${JSON.stringify(s)}`);
  }
  if (!Number.isInteger(r.updatedAt)) throw invalidArgument("updatedAt must be an integer (ms)");
  return {
    job_id: r.jobId,
    operation_id: r.operationId ?? null,
    signed: r.signed ? 1 : 0,
    // The table's CHECK lists the sequences that can exist; anything else is refused there.
    reported: JSON.stringify(r.reported),
    terminal: r.terminal ? 1 : 0,
    updated_at: r.updatedAt,
  };
}

function fromRow(row: Row): HubJobRecord {
  const out: HubJobRecord = {
    jobId: row.job_id,
    signed: row.signed === 1,
    // The CHECK constraint admits only arrays of known states.
    reported: JSON.parse(row.reported) as HubJobState[],
    terminal: row.terminal === 1,
    updatedAt: row.updated_at,
  };
  if (row.operation_id !== null) out.operationId = row.operation_id;
  return out;
}
