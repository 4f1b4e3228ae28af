import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isSecretKey } from "../../src/log/secret-keys.ts";
import { AUDIT_GENESIS_HASH, type AuditInput, AuditLog } from "../../src/store/audit.ts";
import { StoreError } from "../../src/store/errors.ts";
import { applyMigrations } from "../../src/store/migrations.ts";
import { ManualClock, thrown } from "./support.ts";

let db: Database;
let clock: ManualClock;
let audit: AuditLog;

function freshLog(): void {
  db = new Database(":memory:", { strict: true });
  db.run("PRAGMA recursive_triggers = ON");
  applyMigrations(db);
  clock = new ManualClock();
  audit = new AuditLog(db, clock);
}

beforeEach(freshLog);
afterEach(() => db.close());

const decision = (outcome: string, extra: Partial<AuditInput> = {}): AuditInput => ({
  actor: "signer:SHA256:Zm9vYmFy",
  action: "guest.rollback",
  target: "guest:101",
  outcome,
  details: { snapshot: "pre-deploy", reason: "destructive" },
  ...extra,
});

describe("audit log", () => {
  test("hashes are RFC 8785 canonical JSON: a row written before still verifies, byte for byte", () => {
    // The hash below was computed outside the agent, by SHA-256 over the JCS text of
    // [seq, ts, actor, action, target, outcome, details, prev_hash] (docs/hub-protocol.md).
    db.close();
    db = new Database(":memory:", { strict: true });
    db.run("PRAGMA recursive_triggers = ON");
    applyMigrations(db);
    audit = new AuditLog(db, new ManualClock(1_780_315_200_000));
    const row = audit.append(
      decision("accepted", { details: { "\u20ac": [1.5, -0, 1e21], z: 1, note: "café ☕" } }),
    );
    expect(row.details).toBe('{"note":"café ☕","z":1,"\u20ac":[1.5,0,1e+21]}');
    expect(row.hash).toBe("ebe89ea4440071e92ccd5922e8fae91c6af4d459fd3476f9c1eecad114ecd162");
    expect(audit.verifyChain()).toEqual({ ok: true, count: 1, headHash: row.hash });
  });

  test("a lone surrogate, which no JCS implementation can hash alike, is refused and nothing is written", () => {
    for (const input of [
      decision("accepted", { actor: "operator\ud800" }),
      decision("accepted", { details: { note: "\udc00" } }),
    ]) {
      const err = thrown(() => audit.append(input));
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("invalid_argument");
    }
    expect(audit.verifyChain()).toEqual({ ok: true, count: 0, headHash: AUDIT_GENESIS_HASH });
  });

  test("a value JSON cannot hold is an invalid argument", () => {
    for (const value of [Number.NaN, 1n, new Date(0), () => 1]) {
      const err = thrown(() => audit.append(decision("accepted", { details: { value } })));
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("invalid_argument");
    }
  });

  test("rows chain from the genesis hash; the head is the last row", () => {
    const a = audit.append(decision("pending_signature"));
    clock.advance(5);
    const b = audit.append(decision("accepted"));
    expect(a).toMatchObject({ seq: 1, prevHash: AUDIT_GENESIS_HASH, ts: clock.now() - 5 });
    expect(b).toMatchObject({ seq: 2, prevHash: a.hash, ts: clock.now() });
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.details).toBe('{"reason":"destructive","snapshot":"pre-deploy"}');
    expect(audit.verifyChain()).toEqual({ ok: true, count: 2, headHash: b.hash });
  });

  test("an empty log verifies", () => {
    expect(audit.verifyChain()).toEqual({ ok: true, count: 0, headHash: AUDIT_GENESIS_HASH });
  });

  test("UPDATE, DELETE and INSERT OR REPLACE are refused by the database itself", () => {
    const row = audit.append(decision("accepted"));
    expect(() => db.run("UPDATE audit SET outcome = 'allowed' WHERE seq = 1")).toThrow(
      "append-only",
    );
    expect(() => db.run("DELETE FROM audit")).toThrow("append-only");
    expect(() =>
      db
        .query(
          `INSERT OR REPLACE INTO audit (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
           VALUES (1, 0, 'x', 'x', NULL, 'ok', '{}', $p, 'f00')`,
        )
        .run({ p: AUDIT_GENESIS_HASH }),
    ).toThrow("append-only");
    expect(audit.list()).toEqual([row]);
  });

  test("a row edited around the triggers is detected", () => {
    for (const outcome of ["pending_signature", "accepted", "ok"]) audit.append(decision(outcome));
    db.run("DROP TRIGGER audit_append_only_update");
    db.run("UPDATE audit SET outcome = 'allowed' WHERE seq = 2");
    expect(audit.verifyChain()).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  test("a row removed from the end is detected through the recorded head", () => {
    for (const outcome of ["pending_signature", "accepted", "ok"]) audit.append(decision(outcome));
    db.run("DROP TRIGGER audit_append_only_delete");
    db.run("DELETE FROM audit WHERE seq = 3");
    expect(audit.verifyChain()).toMatchObject({ ok: false, firstBadSeq: 3 });
  });

  test("a tail cut with the head rewritten to match is caught by what the hub acknowledged", () => {
    for (const outcome of ["pending_signature", "accepted", "ok", "ok", "ok"]) {
      audit.append(decision(outcome));
    }
    audit.markDelivered(5);
    const third = audit.list({ afterSeq: 2, limit: 1 })[0];
    db.run("DROP TRIGGER audit_append_only_delete");
    db.run("DELETE FROM audit WHERE seq > 3");
    db.query("UPDATE audit_state SET head_seq = 3, head_hash = $h WHERE id = 1").run({
      h: third?.hash ?? "",
    });
    expect(audit.verifyChain()).toEqual({
      ok: false,
      firstBadSeq: 4,
      reason:
        "the hub acknowledged rows up to 5 but the log ends at row 3: rows the hub holds are gone here",
    });
  });

  test("a row removed from the middle is detected", () => {
    for (const outcome of ["pending_signature", "accepted", "ok"]) audit.append(decision(outcome));
    db.run("DROP TRIGGER audit_append_only_delete");
    db.run("DELETE FROM audit WHERE seq = 2");
    expect(audit.verifyChain()).toMatchObject({ ok: false, firstBadSeq: 2 });
  });

  test("details that name a secret are refused and nothing is written", () => {
    for (const details of [
      { token: "abc" },
      { nested: { private_key: "x" } },
      { list: [{ password: "p" }] },
    ]) {
      const err = thrown(() => audit.append(decision("ok", { details }))) as StoreError;
      expect(err).toBeInstanceOf(StoreError);
      expect(err.kind).toBe("invalid_argument");
      expect(err.message).toContain("secrets");
    }
    expect((thrown(() => audit.append(decision("ok", { actor: "" }))) as StoreError).kind).toBe(
      "invalid_argument",
    );
    expect(audit.list()).toEqual([]);
    // References to a secret are fine: a token id is how a token is named in the log.
    expect(
      audit.append(decision("ok", { details: { tokenId: "gt-1", token_file: "/etc/x" } })).seq,
    ).toBe(1);
  });

  test("list pages by seq and time; delivery moves forward only", () => {
    for (let i = 0; i < 5; i++) {
      audit.append(decision(`ok-${i}`));
      clock.advance(1000);
    }
    expect(audit.list({ afterSeq: 2, limit: 2 }).map((r) => r.seq)).toEqual([3, 4]);
    expect(audit.list({ sinceTs: clock.now() - 2000 }).map((r) => r.seq)).toEqual([4, 5]);
    expect(audit.undelivered().map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    audit.markDelivered(3);
    expect(audit.deliveredSeq()).toBe(3);
    expect(audit.undelivered(10).map((r) => r.seq)).toEqual([4, 5]);
    audit.markDelivered(1);
    expect(audit.deliveredSeq()).toBe(3);
    expect((thrown(() => audit.markDelivered(6)) as StoreError).kind).toBe("invalid_argument");
    expect(audit.deliveredSeq()).toBe(3);
  });
});

describe("pruning with an anchor", () => {
  function fill(n: number): void {
    for (let i = 0; i < n; i++) {
      audit.append(decision(`ok-${i}`));
      clock.advance(1000);
    }
  }

  test("only rows the hub acknowledged and past the retention go; the chain verifies from the anchor", () => {
    fill(10); // ts T, T+1s, … T+9s
    const t0 = clock.now() - 10_000;
    const rows = audit.list();
    audit.markDelivered(6);
    // Old enough: rows 1-8. Acknowledged: rows 1-6. Both: 1-6.
    expect(audit.prune({ olderThanTs: t0 + 8_000 })).toEqual({ pruned: 6, anchorSeq: 6 });
    expect(audit.list().map((r) => r.seq)).toEqual([7, 8, 9, 10]);
    expect(audit.head()).toMatchObject({ anchorSeq: 6, anchorHash: rows[5]?.hash, seq: 10 });
    expect(audit.verifyChain()).toEqual({
      ok: true,
      count: 4,
      headHash: rows[9]?.hash ?? "",
      anchorSeq: 6,
    });
    // Nothing more to do until the hub has more; then only the old part goes.
    expect(audit.prune({ olderThanTs: clock.now() })).toEqual({ pruned: 0, anchorSeq: 6 });
    audit.markDelivered(10);
    expect(audit.prune({ olderThanTs: t0 + 8_000 })).toEqual({ pruned: 2, anchorSeq: 8 });
    expect(audit.verifyChain()).toMatchObject({ ok: true, count: 2, anchorSeq: 8 });
  });

  test("everything pruned: the next row follows the anchor and links to it", () => {
    fill(3);
    audit.markDelivered(3);
    const third = audit.list()[2];
    expect(audit.prune({ olderThanTs: clock.now() + 1 })).toEqual({ pruned: 3, anchorSeq: 3 });
    expect(audit.list()).toEqual([]);
    expect(audit.verifyChain()).toEqual({
      ok: true,
      count: 0,
      headHash: third?.hash ?? "",
      anchorSeq: 3,
    });
    const next = audit.append(decision("after"));
    expect(next).toMatchObject({ seq: 4, prevHash: third?.hash });
    expect(audit.verifyChain()).toMatchObject({ ok: true, count: 1, anchorSeq: 3 });
  });

  test("maxRows bounds one call", () => {
    fill(5);
    audit.markDelivered(5);
    expect(audit.prune({ olderThanTs: clock.now(), maxRows: 2 })).toEqual({
      pruned: 2,
      anchorSeq: 2,
    });
    expect(audit.prune({ olderThanTs: clock.now(), maxRows: 2 })).toEqual({
      pruned: 2,
      anchorSeq: 4,
    });
    expect(audit.verifyChain()).toMatchObject({ ok: true, count: 1, anchorSeq: 4 });
  });

  test("the database refuses deleting past the anchor and moving the anchor back or past the hub", () => {
    fill(4);
    audit.markDelivered(2);
    audit.prune({ olderThanTs: clock.now() });
    expect(() => db.run("DELETE FROM audit WHERE seq = 3")).toThrow("append-only");
    expect(() => db.run("UPDATE audit_state SET anchor_seq = 1 WHERE id = 1")).toThrow(
      "only moves forward",
    );
    expect(() => db.run("UPDATE audit_state SET anchor_seq = 4 WHERE id = 1")).toThrow(
      "only moves forward",
    );
    expect(audit.verifyChain()).toMatchObject({ ok: true, count: 2, anchorSeq: 2 });
  });

  test("a first row after the anchor that was rewritten does not link to the anchor", () => {
    fill(4);
    audit.markDelivered(2);
    audit.prune({ olderThanTs: clock.now() });
    db.run("DROP TRIGGER audit_append_only_update");
    db.run(`UPDATE audit SET prev_hash = '${"1".repeat(64)}' WHERE seq = 3`);
    expect(audit.verifyChain()).toEqual({
      ok: false,
      firstBadSeq: 3,
      reason: "row 3 does not link to the anchor (row 2, pruned)",
    });
  });
});

const safeKey = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !isSecretKey(k));
const jsonLeaf = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const details = fc.dictionary(safeKey, fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 })), {
  maxKeys: 4,
});
const text = fc.string({ minLength: 1, maxLength: 24 }).filter((s) => !/\p{Cc}/u.test(s));
const entry = fc.record({
  actor: text,
  action: text,
  target: fc.option(text, { nil: null }),
  outcome: text,
  details,
  advance: fc.nat({ max: 10_000 }),
});

const FIELDS = [
  "seq",
  "ts",
  "actor",
  "action",
  "target",
  "outcome",
  "details",
  "prev_hash",
  "hash",
] as const;

describe("audit chain properties", () => {
  test("any sequence of appends verifies", () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        freshLog();
        for (const { advance, ...e } of entries) {
          clock.advance(advance);
          audit.append(e);
        }
        const verdict = audit.verifyChain();
        db.close();
        return verdict.ok && verdict.count === entries.length;
      }),
      { numRuns: 60 },
    );
  });

  test("any single-field change of any row fails verification at or before that row", () => {
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.constantFrom(...FIELDS),
        fc.string({ minLength: 1, maxLength: 8 }),
        (entries, pick, field, noise) => {
          freshLog();
          for (const { advance, ...e } of entries) {
            clock.advance(advance);
            audit.append(e);
          }
          const seq = (pick % entries.length) + 1;
          const row = db.query("SELECT * FROM audit WHERE seq = $seq").get({ seq }) as Record<
            string,
            unknown
          >;
          db.run("DROP TRIGGER audit_append_only_update");
          const original = row[field];
          let changed: unknown;
          if (field === "seq") changed = seq + entries.length + 1;
          else if (field === "ts") changed = (original as number) + 1 + noise.length;
          else if (field === "hash" || field === "prev_hash") {
            const s = original as string;
            changed = (s[0] === "0" ? "1" : "0") + s.slice(1);
          } else changed = original === null ? noise : `${original as string}${noise}`;
          db.query(`UPDATE audit SET ${field} = $v WHERE seq = $seq`).run({
            v: changed as string | number,
            seq,
          });
          const verdict = audit.verifyChain();
          db.close();
          return !verdict.ok && verdict.firstBadSeq <= seq;
        },
      ),
      { numRuns: 150 },
    );
  });
});
