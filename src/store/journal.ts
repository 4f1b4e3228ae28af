import type { Database } from "bun:sqlite";
import { isUpid } from "../proxmox/upid.ts";
import type { Clock } from "../util/clock.ts";
import { canonicalJsonArgument, StoreError } from "./errors.ts";
import { type JournalPruneOptions, pruneJournal } from "./journal-prune.ts";
import { type CheckedJournalRow, checkJournalRow } from "./journal-rows.ts";
import { Quarantine, type QuarantinedRow, type QuarantineListener } from "./quarantine.ts";
import {
  checkLimit,
  checkOp,
  checkOptionalText,
  checkOptionalVmid,
  checkOrigin,
  checkText,
  checkVmid,
  type Origin,
} from "./validate.ts";

/**
 * - `intent`: written before the POST; the POST may or may not have reached Proxmox.
 * - `posted`: Proxmox answered with a UPID; the task exists.
 * - `done` / `failed`: the task (or the synchronous call) ended.
 * - `abandoned`: recovery or the operator gave it up without knowing a result.
 */
export type JournalPhase = "intent" | "posted" | "done" | "failed" | "abandoned";
export type InFlightPhase = "intent" | "posted";
export type TerminalPhase = "done" | "failed" | "abandoned";

const NEXT_PHASES: Readonly<Record<JournalPhase, readonly JournalPhase[]>> = {
  intent: ["posted", "done", "failed", "abandoned"],
  posted: ["done", "failed", "abandoned"],
  done: [],
  failed: [],
  abandoned: [],
};

/**
 * The one recovery action for each phase a crash can leave behind (src/store/README.md):
 * - `reconcile_from_actual`: no UPID was stored, so the POST may or may not have happened.
 *   Never re-POST blindly: look in the node's task list for a task of this type and guest
 *   started after `createdAt`, else re-read actual state and re-plan.
 * - `resume_wait`: the task exists; read its status once and keep waiting or record the end.
 */
export type RecoveryAction = "reconcile_from_actual" | "resume_wait";
export const RECOVERY_ACTION: Readonly<Record<InFlightPhase, RecoveryAction>> = {
  intent: "reconcile_from_actual",
  posted: "resume_wait",
};

export interface JournalEntry {
  id: number;
  vmid: number | null;
  op: string;
  params: unknown;
  origin: Origin;
  jobId: string | null;
  phase: JournalPhase;
  upid: string | null;
  error: unknown;
  attempts: number;
  /** What the agent itself created in this journaled operation (read by the gate, docs/architecture.md#destructive-needs-a-signature). */
  provenance: unknown;
  /** How crash recovery or the operator resolved it, when they did. */
  resolution: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface IntentInput {
  vmid?: number | null;
  op: string;
  /** Plain JSON; stored canonically. Never put a secret here. */
  params?: unknown;
  origin: Origin;
  jobId?: string | null;
  /** 1 for a first try; a retry of the same action carries its attempt number. */
  attempts?: number;
  provenance?: unknown;
}

export interface TerminalDetail {
  /** Plain JSON describing the failure (a TaskError's fields, say). Never a secret. */
  error?: unknown;
  /** How it was resolved, e.g. "recovery: task stopped with OK". */
  resolution?: string;
  /** Replaces the provenance, e.g. the name of a snapshot the task created. */
  provenance?: unknown;
}

function toEntry(row: CheckedJournalRow): JournalEntry {
  return {
    id: row.id,
    vmid: row.vmid,
    op: row.op,
    params: row.params,
    origin: row.origin as Origin,
    jobId: row.job_id,
    phase: row.phase,
    upid: row.upid,
    error: row.error,
    attempts: row.attempts,
    provenance: row.provenance,
    resolution: row.resolution,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function optionalJson(value: unknown): string | null {
  return value === undefined ? null : canonicalJsonArgument(value);
}

/**
 * The mutation journal (docs/architecture.md#mutations-are-journaled): every write is its own durable transaction, so each
 * phase is on disk before the caller takes the next step.
 */
export class Journal {
  private readonly quarantine: Quarantine;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    /** Told once per row when it is first quarantined (the store audits it). */
    onQuarantine: QuarantineListener = () => {},
  ) {
    this.quarantine = new Quarantine(db, clock, onQuarantine);
  }

  /** Durable before it returns: call it before the POST. */
  recordIntent(input: IntentInput): number {
    const attempts = input.attempts ?? 1;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new StoreError({
        kind: "invalid_argument",
        message: `attempts must be a positive integer, got ${attempts}`,
      });
    }
    const params = canonicalJsonArgument(input.params ?? {});
    const now = this.clock.now();
    const row = this.db
      .query(
        `INSERT INTO journal (vmid, op, params, origin, job_id, phase, attempts, provenance, created_at, updated_at)
         VALUES ($vmid, $op, $params, $origin, $jobId, 'intent', $attempts, $provenance, $now, $now)
         RETURNING id`,
      )
      .get({
        vmid: checkOptionalVmid(input.vmid),
        op: checkOp(input.op),
        params,
        origin: checkOrigin(input.origin),
        jobId: checkOptionalText(input.jobId, "job id"),
        attempts,
        provenance: optionalJson(input.provenance),
        now,
      }) as { id: number };
    return row.id;
  }

  /**
   * The task exists. Recording the same UPID again is a no-op (a retried write after a crash);
   * a different UPID, or any UPID on a finished entry, is refused.
   */
  recordUpid(id: number, upid: string): void {
    if (!isUpid(upid)) {
      throw new StoreError({
        kind: "invalid_argument",
        message: `not a UPID: ${JSON.stringify(upid)}`,
      });
    }
    this.db
      .transaction(() => {
        const current = this.mustGet(id);
        if (current.phase === "posted" && current.upid === upid) return;
        this.checkTransition(current, "posted");
        this.db
          .query(
            "UPDATE journal SET phase = 'posted', upid = $upid, updated_at = $now WHERE id = $id",
          )
          .run({ id, upid, now: this.clock.now() });
      })
      .immediate();
  }

  /** The end: `done` / `failed` from the task, `abandoned` when no result can be known. */
  recordTerminal(id: number, phase: TerminalPhase, detail: TerminalDetail = {}): void {
    if (phase !== "done" && phase !== "failed" && phase !== "abandoned") {
      throw new StoreError({
        kind: "invalid_argument",
        message: `not a terminal phase: ${JSON.stringify(phase)}`,
      });
    }
    const error = optionalJson(detail.error);
    const provenance = optionalJson(detail.provenance);
    const resolution = checkOptionalText(detail.resolution, "resolution", 1024);
    this.db
      .transaction(() => {
        const current = this.mustGet(id);
        this.checkTransition(current, phase);
        this.db
          .query(
            `UPDATE journal SET phase = $phase, error = COALESCE($error, error),
               provenance = COALESCE($provenance, provenance),
               resolution = COALESCE($resolution, resolution), updated_at = $now
             WHERE id = $id`,
          )
          .run({ id, phase, error, provenance, resolution, now: this.clock.now() });
      })
      .immediate();
  }

  /** What crash recovery must resolve before anything mutates, oldest first. */
  inFlight(): JournalEntry[] {
    return (
      this.db
        .query("SELECT * FROM journal WHERE phase IN ('intent', 'posted') ORDER BY id")
        .all() as unknown[]
    ).flatMap((r) => this.read(r));
  }

  byId(id: number): JournalEntry | undefined {
    const row = this.db.query("SELECT * FROM journal WHERE id = $id").get({ id }) as unknown;
    return row ? this.read(row)[0] : undefined;
  }

  /** Newest first. */
  recent(limit = 100): JournalEntry[] {
    return (
      this.db
        .query("SELECT * FROM journal ORDER BY id DESC LIMIT $limit")
        .all({ limit: checkLimit(limit) }) as unknown[]
    ).flatMap((r) => this.read(r));
  }

  /** Newest first. */
  forGuest(vmid: number, limit = 100): JournalEntry[] {
    return (
      this.db
        .query("SELECT * FROM journal WHERE vmid = $vmid ORDER BY id DESC LIMIT $limit")
        .all({ vmid: checkVmid(vmid), limit: checkLimit(limit) }) as unknown[]
    ).flatMap((r) => this.read(r));
  }

  /** Host-level entries (no guest), newest first: storage and other host operations. */
  forHost(limit = 100): JournalEntry[] {
    return (
      this.db
        .query("SELECT * FROM journal WHERE vmid IS NULL ORDER BY id DESC LIMIT $limit")
        .all({ limit: checkLimit(limit) }) as unknown[]
    ).flatMap((r) => this.read(r));
  }

  /** Every entry of a hub job, oldest first: how a job result is reported exactly once. */
  forJob(jobId: string): JournalEntry[] {
    return (
      this.db
        .query("SELECT * FROM journal WHERE job_id = $jobId ORDER BY id")
        .all({ jobId: checkText(jobId, "job id") }) as unknown[]
    ).flatMap((r) => this.read(r));
  }

  /** Rows set aside because they could not be read, oldest first. */
  quarantined(): QuarantinedRow[] {
    return this.quarantine.list("journal");
  }

  /**
   * The row as an entry, or nothing: a row that cannot be read is quarantined (kept in the
   * table, marked, reported once) rather than failing every read that meets it, so one damaged
   * entry does not stop recovery and every pass for good.
   */
  private read(raw: unknown): JournalEntry[] {
    const checked = checkJournalRow(raw);
    if (checked.ok) return [toEntry(checked.row)];
    this.quarantine.mark("journal", raw, checked.reason);
    return [];
  }

  /** Deletes finished entries past the retention that nothing reads any more; see journal-prune.ts. */
  prune(options: JournalPruneOptions): number {
    return this.db.transaction(() => pruneJournal(this.db, options)).immediate();
  }

  private mustGet(id: number): JournalEntry {
    const entry = Number.isInteger(id) ? this.byId(id) : undefined;
    if (!entry) throw new StoreError({ kind: "not_found", message: `no journal entry ${id}` });
    return entry;
  }

  private checkTransition(current: JournalEntry, next: JournalPhase): void {
    if (!NEXT_PHASES[current.phase].includes(next)) {
      throw new StoreError({
        kind: "invalid_transition",
        message: `journal entry ${current.id} (${current.op}) is ${current.phase}; it cannot become ${next}`,
      });
    }
  }
}
