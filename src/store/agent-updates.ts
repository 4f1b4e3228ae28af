import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";

/**
 * The steps of one self-update, in order (docs/self-update.md#steps-and-recovery). `good`,
 * `failed` and `rolled_back` close the attempt.
 */
export const UPDATE_STEPS = [
  "admitted",
  "downloaded",
  "smoked",
  "switched",
  "started",
  "good",
  "failed",
  "rolled_back",
] as const;
export type UpdateStep = (typeof UPDATE_STEPS)[number];

const CLOSED: ReadonlySet<UpdateStep> = new Set(["good", "failed", "rolled_back"]);

export function isClosedStep(step: UpdateStep): boolean {
  return CLOSED.has(step);
}

export interface UpdateAttempt {
  id: number;
  journalId: number;
  version: string;
  fromVersion: string;
  target: "x64" | "x64-baseline";
  sha256: string;
  size: number;
  expiresAt: number;
  step: UpdateStep;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface UpdateAttemptInput {
  journalId: number;
  version: string;
  fromVersion: string;
  target: "x64" | "x64-baseline";
  sha256: string;
  size: number;
  expiresAt: number;
}

interface Row {
  id: number;
  journal_id: number;
  version: string;
  from_version: string;
  target: "x64" | "x64-baseline";
  sha256: string;
  size: number;
  expires_at: number;
  step: UpdateStep;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

const toAttempt = (r: Row): UpdateAttempt => ({
  id: r.id,
  journalId: r.journal_id,
  version: r.version,
  fromVersion: r.from_version,
  target: r.target,
  sha256: r.sha256,
  size: r.size,
  expiresAt: r.expires_at,
  step: r.step,
  reason: r.reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS =
  "id, journal_id, version, from_version, target, sha256, size, expires_at, step, reason, created_at, updated_at";

/**
 * The `agent_updates` table: each admitted `agent.update` and the step it reached. The updater
 * writes a step only after the work of that step is durable on disk, so the row never claims
 * more than was done; start-up reads it to resume or roll back.
 */
export class AgentUpdates {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Records an admitted attempt; throws when another one is still open (unique index). */
  record(input: UpdateAttemptInput): UpdateAttempt {
    const open = this.open();
    if (open !== undefined) {
      throw invalidArgument(
        `update to ${open.version} is still in progress (step ${open.step}); wait for it to finish`,
      );
    }
    const now = this.clock.now();
    const row = this.db
      .query(
        `INSERT INTO agent_updates (journal_id, version, from_version, target, sha256, size,
           expires_at, step, reason, created_at, updated_at)
         VALUES ($journal, $version, $from, $target, $sha, $size, $expires, 'admitted', NULL, $now, $now)
         RETURNING ${COLUMNS}`,
      )
      .get({
        journal: input.journalId,
        version: input.version,
        from: input.fromVersion,
        target: input.target,
        sha: input.sha256,
        size: input.size,
        expires: input.expiresAt,
        now,
      }) as Row;
    return toAttempt(row);
  }

  /** Moves an attempt to `step`; a closed attempt is never reopened. */
  advance(id: number, step: UpdateStep, reason?: string): UpdateAttempt {
    const row = this.db
      .query(
        `UPDATE agent_updates SET step = $step, reason = $reason, updated_at = $now
         WHERE id = $id AND step NOT IN ('good', 'failed', 'rolled_back')
         RETURNING ${COLUMNS}`,
      )
      .get({
        id,
        step,
        reason: reason === undefined ? null : reason.slice(0, 2000),
        now: this.clock.now(),
      }) as Row | null;
    if (row === null) throw invalidArgument(`update attempt ${id} is not open`);
    return toAttempt(row);
  }

  /** The attempt still in progress, if any. */
  open(): UpdateAttempt | undefined {
    const row = this.db
      .query(`SELECT ${COLUMNS} FROM agent_updates WHERE open = 1`)
      .get() as Row | null;
    return row === null ? undefined : toAttempt(row);
  }

  /** The newest attempt, open or closed. */
  last(): UpdateAttempt | undefined {
    const row = this.db
      .query(`SELECT ${COLUMNS} FROM agent_updates ORDER BY id DESC LIMIT 1`)
      .get() as Row | null;
    return row === null ? undefined : toAttempt(row);
  }

  /** True when this version failed or was rolled back before: it is not tried again. */
  hasFailed(version: string): boolean {
    return (
      this.db
        .query(
          "SELECT 1 FROM agent_updates WHERE version = $v AND step IN ('failed', 'rolled_back') LIMIT 1",
        )
        .get({ v: version }) !== null
    );
  }
}
