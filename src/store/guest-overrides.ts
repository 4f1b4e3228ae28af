import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkTimestamp, checkVmid } from "./validate.ts";

/** The guest fields a guest may grow through the local API (docs/desired-state.md names). */
export type OverrideField = "cores" | "memory_mib";
export const OVERRIDE_FIELDS: readonly OverrideField[] = ["cores", "memory_mib"];

export interface OverrideInput {
  /** The journaled local-API `guest.config` that asked for the grow. */
  journalId: number;
  vmid: number;
  field: OverrideField;
  value: number;
  /** What the desired state said for the field when the guest asked; null = unmanaged. */
  desiredValue: number | null;
}

export interface GuestOverride {
  journalId: number;
  vmid: number;
  field: OverrideField;
  value: number;
  desiredValue: number | null;
  createdAt: number;
  /** When the grow took effect (its journal entry became `done`). */
  since: number;
  /** When it was first reported as standing; null until then. */
  reportedAt: number | null;
}

interface Row {
  journal_id: number;
  vmid: number;
  field: OverrideField;
  value: number;
  desired_value: number | null;
  created_at: number;
  since: number;
  reported_at: number | null;
}

function toOverride(row: Row): GuestOverride {
  return {
    journalId: row.journal_id,
    vmid: row.vmid,
    field: row.field,
    value: row.value,
    desiredValue: row.desired_value,
    createdAt: row.created_at,
    since: row.since,
    reportedAt: row.reported_at,
  };
}

function checkField(field: string): OverrideField {
  if (!(OVERRIDE_FIELDS as readonly string[]).includes(field)) {
    throw invalidArgument(
      `override field must be one of ${OVERRIDE_FIELDS.join(", ")}, got ${JSON.stringify(field)}`,
    );
  }
  return field as OverrideField;
}

function checkAmount(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalidArgument(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}

function checkJournalId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw invalidArgument(`journal id must be a positive integer, got ${id}`);
  }
  return id;
}

/** The columns of `Row`, with `since` taken from the grow's journal entry. */
const SELECT_ROWS = `SELECT o.journal_id, o.vmid, o.field, o.value, o.desired_value, o.created_at,
         o.reported_at, j.updated_at AS since
  FROM guest_overrides o JOIN journal j ON j.id = o.journal_id`;

/**
 * A guest's own grows through the local API (docs/desired-state.md#the-guests-own-grows). Written with the journal intent of the
 * `guest.config` that asks for them, so a crash can never leave a grow without its record; a
 * row is in force only while that entry is `done`, and only the newest done row of a guest's
 * field counts. The reconciler clears a field's rows once the desired state moved on.
 */
export class GuestOverrides {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  record(input: OverrideInput): void {
    const desiredValue =
      input.desiredValue === null ? null : checkAmount(input.desiredValue, "desired value");
    this.db
      .query(
        `INSERT INTO guest_overrides (journal_id, vmid, field, value, desired_value, created_at)
         VALUES ($journalId, $vmid, $field, $value, $desiredValue, $now)`,
      )
      .run({
        journalId: checkJournalId(input.journalId),
        vmid: checkVmid(input.vmid),
        field: checkField(input.field),
        value: checkAmount(input.value, "override value"),
        desiredValue,
        now: this.clock.now(),
      });
  }

  /** The overrides in force: per guest and field, the newest whose grow is `done`. */
  inForce(): GuestOverride[] {
    return (
      this.db
        .query(
          `${SELECT_ROWS}
           WHERE j.phase = 'done' AND o.journal_id = (
             SELECT MAX(o2.journal_id) FROM guest_overrides o2
             JOIN journal j2 ON j2.id = o2.journal_id
             WHERE j2.phase = 'done' AND o2.vmid = o.vmid AND o2.field = o.field)
           ORDER BY o.vmid, o.field`,
        )
        .all() as Row[]
    ).map(toOverride);
  }

  /**
   * Removes a guest field's rows up to and including `throughJournalId`: the override the
   * reconciler judged void and anything older. A grow asked for later (still in flight) stays.
   */
  clear(vmid: number, field: OverrideField, throughJournalId: number): number {
    return this.db
      .query(
        `DELETE FROM guest_overrides
         WHERE vmid = $vmid AND field = $field AND journal_id <= $through`,
      )
      .run({
        vmid: checkVmid(vmid),
        field: checkField(field),
        through: checkJournalId(throughJournalId),
      }).changes;
  }

  /** Notes that a standing override was reported; true the first time only. */
  markReported(journalId: number, field: OverrideField, at: number = this.clock.now()): boolean {
    return (
      this.db
        .query(
          `UPDATE guest_overrides SET reported_at = $at
           WHERE journal_id = $journalId AND field = $field AND reported_at IS NULL`,
        )
        .run({
          journalId: checkJournalId(journalId),
          field: checkField(field),
          at: checkTimestamp(at, "report time"),
        }).changes === 1
    );
  }

  /** Drops rows whose grow failed or was abandoned: they never took effect. Returns how many. */
  forgetUntaken(): number {
    return this.db
      .query(
        `DELETE FROM guest_overrides WHERE journal_id IN (
           SELECT id FROM journal WHERE phase IN ('failed', 'abandoned'))`,
      )
      .run().changes;
  }

  /** Every row of a guest, in force or not, oldest first (diagnostics and tests). */
  forGuest(vmid: number): GuestOverride[] {
    return (
      this.db
        .query(
          `${SELECT_ROWS}
           WHERE o.vmid = $vmid ORDER BY o.journal_id, o.field`,
        )
        .all({ vmid: checkVmid(vmid) }) as Row[]
    ).map(toOverride);
  }
}
