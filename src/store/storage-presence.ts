import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import type { AuditLog } from "./audit.ts";
import { invalidArgument } from "./errors.ts";

/** What one look at a backup target found. */
export interface PresenceObservation {
  storage: string;
  present: boolean;
  active: boolean;
  /** Why it is not usable, in words an operator can act on; null when it is. */
  reason: string | null;
}

export interface PresenceRow extends PresenceObservation {
  /** When `present`/`active` last changed (ms). */
  since: number;
  checkedAt: number;
}

interface Row {
  storage: string;
  present: number;
  active: number;
  reason: string | null;
  since: number;
  checked_at: number;
}

const toRow = (r: Row): PresenceRow => ({
  storage: r.storage,
  present: r.present === 1,
  active: r.active === 1,
  reason: r.reason,
  since: r.since,
  checkedAt: r.checked_at,
});

/**
 * The last seen state of each backup target (src/store/README.md#storage-presence). A change
 * of `present` or `active` moves `since` and appends exactly one audit row, in one
 * transaction; a look that finds the same state only updates `checked_at`.
 */
export class StoragePresence {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  get(storage: string): PresenceRow | undefined {
    const row = this.db
      .query("SELECT * FROM storage_presence WHERE storage = $storage")
      .get({ storage }) as Row | null;
    return row ? toRow(row) : undefined;
  }

  list(): PresenceRow[] {
    return (this.db.query("SELECT * FROM storage_presence ORDER BY storage").all() as Row[]).map(
      toRow,
    );
  }

  /** Records one look; returns the row and whether it was a transition (audited). */
  observe(o: PresenceObservation): { row: PresenceRow; changed: boolean } {
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(o.storage)) {
      throw invalidArgument("storage presence: not a storage id");
    }
    const reason = o.reason === null ? null : o.reason.slice(0, 512);
    const now = this.clock.now();
    return this.db
      .transaction(() => {
        const before = this.get(o.storage);
        const changed =
          before === undefined || before.present !== o.present || before.active !== o.active;
        const since = changed ? now : (before as PresenceRow).since;
        this.db
          .query(
            `INSERT INTO storage_presence (storage, present, active, reason, since, checked_at)
           VALUES ($storage, $present, $active, $reason, $since, $now)
           ON CONFLICT (storage) DO UPDATE SET present = $present, active = $active,
             reason = $reason, since = $since, checked_at = $now`,
          )
          .run({
            storage: o.storage,
            present: o.present ? 1 : 0,
            active: o.active ? 1 : 0,
            reason,
            since,
            now,
          });
        // The first look at a target that is fine is not a transition worth a row; a first
        // look that finds it missing is.
        const audited = changed && !(before === undefined && o.present && o.active);
        if (audited) {
          this.audit.append({
            actor: "agent",
            action: "storage.presence",
            target: `storage:${o.storage}`,
            outcome: o.present && o.active ? "back" : o.present ? "inactive" : "missing",
            details: {
              present: o.present,
              active: o.active,
              ...(reason !== null ? { reason } : {}),
            },
          });
        }
        return {
          row: toRow({
            storage: o.storage,
            present: o.present ? 1 : 0,
            active: o.active ? 1 : 0,
            reason,
            since,
            checked_at: now,
          }),
          changed: audited,
        };
      })
      .immediate();
  }
}
