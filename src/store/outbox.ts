import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { canonicalJsonArgument, invalidArgument } from "./errors.ts";
import {
  isQuarantinedSql,
  Quarantine,
  type QuarantinedRow,
  type QuarantineListener,
} from "./quarantine.ts";
import { checkLimit } from "./validate.ts";

/**
 * `telemetry` is periodic and superseded by the next report, so it goes first when the queue is
 * full. `audit` rows and `job_result`s are never dropped: the first is the customer's record,
 * the second must reach the hub exactly once.
 */
export const OUTBOX_TELEMETRY_KIND = "telemetry";
export const OUTBOX_PROTECTED_KINDS: readonly string[] = ["audit", "job_result"];

const KIND_SHAPE = /^[a-z][a-z0-9_.]{0,63}$/;

export interface OutboxItem {
  id: number;
  kind: string;
  body: unknown;
  createdAt: number;
}

export interface OutboxOptions {
  /** Rows kept at most, unless the excess is all protected kinds. */
  cap?: number;
}

interface Row {
  id: number;
  kind: string;
  body: string;
  created_at: number;
}

/**
 * Reports waiting for the hub (docs/architecture.md#hub-link), delivered in insertion order once it is back.
 * Above the cap the oldest telemetry goes first, then other unprotected kinds, oldest first.
 */
export class Outbox {
  readonly cap: number;

  private readonly quarantine: Quarantine;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    options: OutboxOptions = {},
    onQuarantine: QuarantineListener = () => {},
  ) {
    this.quarantine = new Quarantine(db, clock, onQuarantine);
    const cap = options.cap ?? 10_000;
    if (!Number.isInteger(cap) || cap < 1)
      throw invalidArgument(`outbox cap must be a positive integer, got ${cap}`);
    this.cap = cap;
  }

  /** Returns the new row's id and how many older rows were dropped to stay under the cap. */
  enqueue(kind: string, body: unknown): { id: number; dropped: number } {
    if (typeof kind !== "string" || !KIND_SHAPE.test(kind)) {
      throw invalidArgument(`outbox kind must be a lower-case word, got ${JSON.stringify(kind)}`);
    }
    const text = canonicalJsonArgument(body);
    return this.db
      .transaction(() => {
        const { id } = this.db
          .query(
            "INSERT INTO outbox (kind, body, created_at) VALUES ($kind, $body, $now) RETURNING id",
          )
          .get({ kind, body: text, now: this.clock.now() }) as { id: number };
        return { id, dropped: this.trim() };
      })
      .immediate();
  }

  /**
   * The oldest `n` rows, without removing them. A row whose body cannot be read is quarantined
   * (kept, marked, reported once) and left out, so it does not block delivery of the rows
   * behind it for good.
   */
  peek(n = 100): OutboxItem[] {
    const rows = this.db
      .query(
        `SELECT * FROM outbox WHERE NOT ${isQuarantinedSql("outbox", "outbox")} ORDER BY id LIMIT $n`,
      )
      .all({ n: checkLimit(n) }) as Row[];
    return rows.flatMap((r) => {
      let body: unknown;
      try {
        body = JSON.parse(r.body);
      } catch {
        this.quarantine.mark("outbox", r, "unreadable body");
        return [];
      }
      return [{ id: r.id, kind: r.kind, body, createdAt: r.created_at }];
    });
  }

  /** Rows set aside because they could not be read, oldest first. */
  quarantined(): QuarantinedRow[] {
    return this.quarantine.list("outbox");
  }

  /** Removes delivered rows; unknown ids are ignored (an ack can be retried). Returns how many. */
  ack(ids: readonly number[]): number {
    for (const id of ids) {
      if (!Number.isInteger(id)) throw invalidArgument(`outbox ids are integers, got ${id}`);
    }
    return this.db
      .transaction(() => {
        let removed = 0;
        const del = this.db.query("DELETE FROM outbox WHERE id = $id");
        for (const id of ids) removed += del.run({ id }).changes;
        return removed;
      })
      .immediate();
  }

  size(): number {
    return (this.db.query("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;
  }

  private trim(): number {
    let excess = this.size() - this.cap;
    if (excess <= 0) return 0;
    const telemetryFirst = this.db
      .query(
        `DELETE FROM outbox WHERE id IN
           (SELECT id FROM outbox WHERE kind = $kind ORDER BY id LIMIT $excess)`,
      )
      .run({ kind: OUTBOX_TELEMETRY_KIND, excess }).changes;
    excess -= telemetryFirst;
    const thenUnprotected =
      excess > 0
        ? this.db
            .query(
              `DELETE FROM outbox WHERE id IN
                 (SELECT id FROM outbox WHERE kind NOT IN (SELECT value FROM json_each($protected))
                  ORDER BY id LIMIT $excess)`,
            )
            .run({ protected: JSON.stringify(OUTBOX_PROTECTED_KINDS), excess }).changes
        : 0;
    const dropped = telemetryFirst + thenUnprotected;
    if (dropped > 0) {
      this.db
        .query(
          `INSERT INTO meta (key, value) VALUES ('outbox_dropped', CAST($n AS TEXT))
           ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + $n AS TEXT)`,
        )
        .run({ n: dropped });
    }
    return dropped;
  }

  /** Rows dropped over the store's lifetime, so a report can say telemetry was lost. */
  droppedTotal(): number {
    const row = this.db.query("SELECT value FROM meta WHERE key = 'outbox_dropped'").get() as {
      value: string;
    } | null;
    return row ? Number(row.value) : 0;
  }
}
