import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";

/**
 * Rows that cannot be read (bad JSON that SQLite never checks) are set aside instead of failing
 * every read that meets them (src/store/README.md#quarantine). The mark is a meta row
 * `<table>_quarantine:<id>`, so no schema change is needed and the row itself stays untouched.
 */
export type QuarantineTable = "journal" | "outbox" | "pending_ops";

export interface QuarantinedRow {
  table: QuarantineTable;
  /** The row's primary key: a number, or text for `pending_ops`. */
  id: number | string;
  /** Which fields were unreadable (never their values). */
  reason: string;
  at: number;
  /** The guest the row was about, when it names one. */
  vmid?: number;
}

export type QuarantineListener = (q: QuarantinedRow) => void;

export function quarantinePrefix(table: QuarantineTable): string {
  return `${table}_quarantine:`;
}

/** SQL that is true when the row `alias.id` of `table` is quarantined. */
export function isQuarantinedSql(table: QuarantineTable, alias: string): string {
  return `EXISTS (SELECT 1 FROM meta m WHERE m.key = '${quarantinePrefix(table)}' || ${alias}.id)`;
}

/**
 * Marks a row and tells `listener` the first time. `reported` keeps a row that cannot even be
 * marked (read-only connection, full disk) from being reported on every read.
 */
export class Quarantine {
  private readonly reported = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly listener: QuarantineListener,
  ) {}

  mark(table: QuarantineTable, raw: unknown, reason: string): void {
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id !== "number" && typeof id !== "string") return;
    const key = `${quarantinePrefix(table)}${id}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const at = this.clock.now();
    let first = true;
    const insert = this.db.query("INSERT OR IGNORE INTO meta (key, value) VALUES ($key, $value)");
    try {
      first = insert.run({ key, value: JSON.stringify({ reason, at }) }).changes > 0;
    } catch {
      // Cannot be recorded: still left out by this process, still reported once.
    }
    if (!first) return;
    const vmid = (raw as { vmid?: unknown }).vmid;
    this.listener({ table, id, reason, at, ...(typeof vmid === "number" ? { vmid } : {}) });
  }

  list(table: QuarantineTable): QuarantinedRow[] {
    const prefix = quarantinePrefix(table);
    const rows = this.db
      .query("SELECT key, value FROM meta WHERE key LIKE $like")
      .all({ like: `${prefix}%` }) as { key: string; value: string }[];
    return rows
      .map((r) => {
        const v = JSON.parse(r.value) as { reason: string; at: number };
        const key = r.key.slice(prefix.length);
        const id = table === "pending_ops" ? key : Number(key);
        return { table, id, reason: v.reason, at: v.at };
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
