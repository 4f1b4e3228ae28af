import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { StoreError } from "../../src/store/errors.ts";
import { Journal, type JournalPhase } from "../../src/store/journal.ts";
import { applyMigrations } from "../../src/store/migrations.ts";
import { ManualClock } from "./support.ts";

const UPIDS = [
  "UPID:pve:00000001:00000001:6650A0B0:vzstart:101:root@pam:",
  "UPID:pve:00000002:00000002:6650A0B1:vzstart:101:root@pam:",
];

/** The allowed moves, written out independently of the implementation's table. */
function allowed(from: JournalPhase, to: JournalPhase): boolean {
  if (from === "intent") return to !== "intent";
  if (from === "posted") return to === "done" || to === "failed" || to === "abandoned";
  return false;
}

type Step =
  | { kind: "upid"; entry: number; upid: number }
  | { kind: "terminal"; entry: number; phase: "done" | "failed" | "abandoned" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("upid" as const),
    entry: fc.nat({ max: 2 }),
    upid: fc.nat({ max: 1 }),
  }),
  fc.record({
    kind: fc.constant("terminal" as const),
    entry: fc.nat({ max: 2 }),
    phase: fc.constantFrom("done" as const, "failed" as const, "abandoned" as const),
  }),
);

describe("journal transitions against a model", () => {
  test("each step succeeds exactly when the model allows it; refused steps change nothing", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const db = new Database(":memory:", { strict: true });
        applyMigrations(db);
        const journal = new Journal(db, new ManualClock());
        const ids = [0, 1, 2].map(() =>
          journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" }),
        );
        const model: { phase: JournalPhase; upid: string | null }[] = ids.map(() => ({
          phase: "intent",
          upid: null,
        }));
        for (const s of steps) {
          const id = ids[s.entry] as number;
          const m = model[s.entry] as { phase: JournalPhase; upid: string | null };
          const before = journal.byId(id);
          const upid = s.kind === "upid" ? (UPIDS[s.upid] as string) : null;
          const target: JournalPhase = s.kind === "upid" ? "posted" : s.phase;
          const idempotent = s.kind === "upid" && m.phase === "posted" && m.upid === upid;
          const ok = idempotent || allowed(m.phase, target);
          let threw: unknown;
          try {
            if (s.kind === "upid") journal.recordUpid(id, upid as string);
            else journal.recordTerminal(id, s.phase);
          } catch (err) {
            threw = err;
          }
          if (ok) {
            expect(threw).toBeUndefined();
            m.phase = target;
            if (upid) m.upid = upid;
          } else {
            expect(threw).toBeInstanceOf(StoreError);
            expect((threw as StoreError).kind).toBe("invalid_transition");
            expect(journal.byId(id)).toEqual(before);
          }
          expect(journal.byId(id)).toMatchObject({ phase: m.phase, upid: m.upid });
        }
        const inFlight = ids.filter((_, i) => {
          const phase = model[i]?.phase;
          return phase === "intent" || phase === "posted";
        });
        expect(journal.inFlight().map((e) => e.id)).toEqual(inFlight);
        db.close();
      }),
      { numRuns: 100 },
    );
  });
});
