import type { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { isSecretKey } from "../log/secret-keys.ts";
import type { Clock } from "../util/clock.ts";
import { canonicalJsonArgument, invalidArgument, StoreError } from "./errors.ts";
import { checkLimit, checkOptionalText, checkText, checkTimestamp } from "./validate.ts";

export const AUDIT_GENESIS_HASH = "0".repeat(64);

export interface AuditInput {
  /** Who: `signer:SHA256:…`, `guest:101`, `hub`, `operator`, `agent`. */
  actor: string;
  /** What, in the operation vocabulary (`guest.rollback`) or `gate.decision`, `token.mint`. */
  action: string;
  /** On what, e.g. `guest:101`; null for host-wide actions. */
  target?: string | null;
  /** The decision or result: `allowed`, `accepted`, `pending_signature`, `rejected:replay`, `ok`. */
  outcome: string;
  /** Plain JSON. Keys that name a secret are refused (docs/architecture.md#secrets-never-leak). */
  details?: Record<string, unknown>;
}

/** Where audit rows go: the AuditLog itself, or a fake in tests of its callers. */
export interface AuditSink {
  append(input: AuditInput): unknown;
}

export interface AuditRow {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  /** Canonical JSON text, exactly as hashed. */
  details: string;
  prevHash: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
  /** The last seq the hub acknowledged. */
  deliveredSeq: number;
  /** The last pruned row (0 and the genesis hash when nothing was pruned). */
  anchorSeq: number;
  anchorHash: string;
}

export type ChainVerdict =
  /** `anchorSeq` is present when older rows were pruned: the walk started after it. */
  | { ok: true; count: number; headHash: string; anchorSeq?: number }
  | { ok: false; firstBadSeq: number; reason: string };

interface Row {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

interface StateRow {
  head_seq: number;
  head_hash: string;
  delivered_seq: number;
  anchor_seq: number;
  anchor_hash: string;
}

/**
 * The bytes a row's hash covers: every field, in a fixed order, as canonical JSON. `details`
 * goes in as its stored text, so a change to any byte of it shows.
 */
export function auditHash(fields: Omit<AuditRow, "hash">): string {
  const material = canonicalJsonArgument([
    fields.seq,
    fields.ts,
    fields.actor,
    fields.action,
    fields.target,
    fields.outcome,
    fields.details,
    fields.prevHash,
  ]);
  return createHash("sha256").update(material, "utf8").digest("hex");
}

function toRow(r: Row): AuditRow {
  return {
    seq: r.seq,
    ts: r.ts,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function refuseSecretKeys(value: unknown, at: string): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      refuseSecretKeys(v, `${at}[${i}]`);
    });
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (isSecretKey(key))
      throw invalidArgument(`audit details must not carry secrets: ${at}.${key}`);
    refuseSecretKeys(v, `${at}.${key}`);
  }
}

/**
 * Append-only, hash-chained audit log (docs/architecture.md#everything-is-audited). Triggers refuse UPDATE and DELETE; the
 * chain and the recorded head make an edit made around them visible to `verifyChain`. The
 * customer-facing export and the hub feed read the same rows.
 */
export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  append(input: AuditInput): AuditRow {
    const actor = checkText(input.actor, "audit actor");
    const action = checkText(input.action, "audit action");
    const target = checkOptionalText(input.target, "audit target");
    const outcome = checkText(input.outcome, "audit outcome");
    const detailsValue = input.details ?? {};
    if (typeof detailsValue !== "object" || detailsValue === null || Array.isArray(detailsValue)) {
      throw invalidArgument("audit details must be a JSON object");
    }
    refuseSecretKeys(detailsValue, "details");
    const details = canonicalJsonArgument(detailsValue);
    return this.db
      .transaction(() => {
        const state = this.state();
        const fields = {
          seq: state.head_seq + 1,
          ts: this.clock.now(),
          actor,
          action,
          target,
          outcome,
          details,
          prevHash: state.head_hash,
        };
        const row: AuditRow = { ...fields, hash: auditHash(fields) };
        this.db
          .query(
            `INSERT INTO audit (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
             VALUES ($seq, $ts, $actor, $action, $target, $outcome, $details, $prevHash, $hash)`,
          )
          .run({ ...row });
        this.db
          .query("UPDATE audit_state SET head_seq = $seq, head_hash = $hash WHERE id = 1")
          .run({ seq: row.seq, hash: row.hash });
        return row;
      })
      .immediate();
  }

  /**
   * Walks the chain from its anchor (the genesis, or the last row pruned after the hub had it)
   * to the recorded head; reports the first row that does not hold.
   */
  verifyChain(): ChainVerdict {
    const start = this.state();
    let expectedSeq = start.anchor_seq + 1;
    let prevHash = start.anchor_hash;
    for (const raw of this.db
      .query("SELECT * FROM audit WHERE seq > $anchor ORDER BY seq")
      .iterate({ anchor: start.anchor_seq }) as Iterable<Row>) {
      const row = toRow(raw);
      if (row.seq !== expectedSeq) {
        return {
          ok: false,
          firstBadSeq: expectedSeq,
          reason: `row ${expectedSeq} is missing (next row is ${row.seq})`,
        };
      }
      if (row.prevHash !== prevHash) {
        return {
          ok: false,
          firstBadSeq: row.seq,
          reason:
            row.seq === start.anchor_seq + 1 && start.anchor_seq > 0
              ? `row ${row.seq} does not link to the anchor (row ${start.anchor_seq}, pruned)`
              : `row ${row.seq} does not link to the row before it`,
        };
      }
      if (auditHash(row) !== row.hash) {
        return {
          ok: false,
          firstBadSeq: row.seq,
          reason: `row ${row.seq} was changed after it was written`,
        };
      }
      prevHash = row.hash;
      expectedSeq++;
    }
    const state = this.state();
    const lastSeq = expectedSeq - 1;
    // The hub holds a copy of every row it acknowledged: a log that now ends before that point
    // lost rows someone else has seen, whatever its own head says (a tail cut and the head
    // rewritten to match still shows here).
    if (state.delivered_seq > Math.max(lastSeq, state.head_seq)) {
      return {
        ok: false,
        firstBadSeq: Math.max(lastSeq, state.head_seq) + 1,
        reason: `the hub acknowledged rows up to ${state.delivered_seq} but the log ends at row ${Math.max(lastSeq, state.head_seq)}: rows the hub holds are gone here`,
      };
    }
    if (state.head_seq !== lastSeq || state.head_hash !== prevHash) {
      return {
        ok: false,
        firstBadSeq: Math.min(lastSeq, state.head_seq) + 1,
        reason: `the log ends at row ${lastSeq} but its recorded head is row ${state.head_seq}`,
      };
    }
    const count = lastSeq - start.anchor_seq;
    return start.anchor_seq > 0
      ? { ok: true, count, headHash: prevHash, anchorSeq: start.anchor_seq }
      : { ok: true, count, headHash: prevHash };
  }

  /**
   * Removes the oldest rows, but only rows the hub has acknowledged (it holds the copy) and
   * older than `olderThanTs`, as one contiguous prefix: the last removed row's seq and hash
   * become the anchor the chain verifies from, in the same transaction. At most `maxRows` per
   * call, so one call never holds the write lock long. Returns how many rows went.
   */
  prune(options: { olderThanTs: number; maxRows?: number }): { pruned: number; anchorSeq: number } {
    const olderThanTs = checkTimestamp(options.olderThanTs, "olderThanTs");
    const maxRows = checkLimit(options.maxRows ?? 10_000);
    return this.db
      .transaction(() => {
        const state = this.state();
        // The first row that must stay: too young, or not yet at the hub.
        const keep = this.db
          .query(
            `SELECT MIN(seq) AS seq FROM audit
             WHERE seq > $anchor AND (ts >= $olderThanTs OR seq > $delivered)`,
          )
          .get({
            anchor: state.anchor_seq,
            olderThanTs,
            delivered: state.delivered_seq,
          }) as { seq: number | null };
        const limit = Math.min(
          (keep.seq ?? state.head_seq + 1) - 1,
          state.delivered_seq,
          state.anchor_seq + maxRows,
        );
        if (limit <= state.anchor_seq) return { pruned: 0, anchorSeq: state.anchor_seq };
        const last = this.db.query("SELECT hash FROM audit WHERE seq = $seq").get({
          seq: limit,
        }) as { hash: string } | null;
        if (last === null) {
          throw new StoreError({
            kind: "invalid_argument",
            message: `cannot prune the audit log up to row ${limit}: that row is missing; run felhom-agent audit verify`,
          });
        }
        // The anchor first: the delete trigger refuses rows after it.
        this.db
          .query("UPDATE audit_state SET anchor_seq = $seq, anchor_hash = $hash WHERE id = 1")
          .run({ seq: limit, hash: last.hash });
        const gone = this.db
          .query("DELETE FROM audit WHERE seq > $from AND seq <= $to")
          .run({ from: state.anchor_seq, to: limit }).changes;
        return { pruned: gone, anchorSeq: limit };
      })
      .immediate();
  }

  /** Oldest first. */
  list(options: { afterSeq?: number; sinceTs?: number; limit?: number } = {}): AuditRow[] {
    const rows = this.db
      .query(
        "SELECT * FROM audit WHERE seq > $afterSeq AND ts >= $sinceTs ORDER BY seq LIMIT $limit",
      )
      .all({
        afterSeq: checkTimestamp(options.afterSeq ?? 0, "afterSeq"),
        sinceTs: checkTimestamp(options.sinceTs ?? 0, "sinceTs"),
        limit: checkLimit(options.limit ?? 1000),
      }) as Row[];
    return rows.map(toRow);
  }

  /** Rows the hub has not acknowledged yet, oldest first. */
  undelivered(limit = 1000): AuditRow[] {
    return this.list({ afterSeq: this.state().delivered_seq, limit });
  }

  deliveredSeq(): number {
    return this.state().delivered_seq;
  }

  /**
   * The recorded head of the chain (what the status report carries so the hub can tell a
   * rewritten log from the one it received) and how far the hub has acknowledged it.
   */
  head(): AuditHead {
    const s = this.state();
    return {
      seq: s.head_seq,
      hash: s.head_hash,
      deliveredSeq: s.delivered_seq,
      anchorSeq: s.anchor_seq,
      anchorHash: s.anchor_hash,
    };
  }

  /** The hub has every row up to `uptoSeq`; never moves backwards. */
  markDelivered(uptoSeq: number): void {
    this.db
      .transaction(() => {
        const state = this.state();
        if (!Number.isInteger(uptoSeq) || uptoSeq < 0 || uptoSeq > state.head_seq) {
          throw new StoreError({
            kind: "invalid_argument",
            message: `cannot mark audit rows delivered up to ${uptoSeq}: the log ends at ${state.head_seq}`,
          });
        }
        this.db
          .query("UPDATE audit_state SET delivered_seq = MAX(delivered_seq, $uptoSeq) WHERE id = 1")
          .run({ uptoSeq });
      })
      .immediate();
  }

  private state(): StateRow {
    return this.db
      .query(
        "SELECT head_seq, head_hash, delivered_seq, anchor_seq, anchor_hash FROM audit_state WHERE id = 1",
      )
      .get() as StateRow;
  }
}
