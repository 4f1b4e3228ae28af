import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { openStore } from "../../src/store/open.ts";
import { recordingLogger, TempStateDir } from "./support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

/** A row with JSON SQLite does not check: passes integrity_check, fails JSON.parse. */
function damage(store: ReturnType<TempStateDir["open"]>, id: number, column: string): void {
  store.db.query(`UPDATE journal SET ${column} = '{"half": ' WHERE id = $id`).run({ id });
}

describe("a journal row that cannot be read", () => {
  test("is left out of every read instead of failing it, kept, logged and audited once", () => {
    const logger = recordingLogger();
    const store = openStore({ path: tmp.dbPath, clock: tmp.clock, logger });
    const good = store.journal.recordIntent({ op: "guest.start", vmid: 101, origin: "reconcile" });
    const bad = store.journal.recordIntent({ op: "guest.stop", vmid: 101, origin: "reconcile" });
    damage(store, bad, "params");
    expect(store.db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });

    expect(store.journal.inFlight().map((e) => e.id)).toEqual([good]);
    expect(store.journal.forGuest(101).map((e) => e.id)).toEqual([good]);
    expect(store.journal.recent().map((e) => e.id)).toEqual([good]);
    expect(store.journal.byId(bad)).toBeUndefined();

    expect(store.journal.quarantined()).toEqual([
      { table: "journal", id: bad, reason: "unreadable params", at: tmp.clock.now() },
    ]);
    // Kept in the table for whoever investigates.
    expect(store.db.query("SELECT count(*) AS n FROM journal").get()).toEqual({ n: 2 });
    const audits = store.audit.list({ limit: 10 }).filter((a) => a.action === "journal.quarantine");
    expect(audits).toHaveLength(1);
    expect(audits[0]?.target).toBe("guest:101");
    expect(JSON.parse(audits[0]?.details ?? "{}")).toEqual({
      journal_id: bad,
      reason: "unreadable params",
    });
    // The value itself never reaches the log or the audit row.
    expect(JSON.stringify(logger.records)).not.toContain("half");
    expect(logger.records.filter((r) => r.msg.includes("quarantined"))).toHaveLength(1);
    store.close();

    // Reopened (a restart): still left out, not audited again.
    const again = openStore({ path: tmp.dbPath, clock: tmp.clock });
    expect(again.journal.inFlight().map((e) => e.id)).toEqual([good]);
    expect(
      again.audit.list({ limit: 10 }).filter((a) => a.action === "journal.quarantine"),
    ).toHaveLength(1);
    again.close();
  });

  test("bad provenance or error JSON is quarantined too; pruning keeps quarantined rows", () => {
    const store = tmp.open();
    const a = store.journal.recordIntent({ op: "guest.start", vmid: 102, origin: "reconcile" });
    store.journal.recordTerminal(a, "failed", { error: { message: "x" } });
    damage(store, a, "error");
    const b = store.journal.recordIntent({ op: "guest.start", vmid: 102, origin: "reconcile" });
    store.journal.recordTerminal(b, "done", { provenance: { v: 1, created: [] } });
    damage(store, b, "provenance");
    expect(store.journal.forGuest(102)).toEqual([]);
    expect(store.journal.quarantined().map((q) => q.reason)).toEqual([
      "unreadable error",
      "unreadable provenance",
    ]);
    tmp.clock.advance(400 * 86_400_000);
    expect(store.journal.prune({ before: tmp.clock.now(), provenanceLookback: 500 })).toBe(0);
  });
});

describe("an outbox row that cannot be read", () => {
  test("is quarantined and the rows behind it are still delivered", () => {
    const store = tmp.open();
    const first = store.outbox.enqueue("job_result", { job: "a" }).id;
    const bad = store.outbox.enqueue("job_result", { job: "b" }).id;
    const last = store.outbox.enqueue("job_result", { job: "c" }).id;
    store.db.query("UPDATE outbox SET body = '{\"job\": ' WHERE id = $id").run({ id: bad });

    expect(store.outbox.peek(10).map((i) => i.id)).toEqual([first, last]);
    store.outbox.ack([first, last]);
    expect(store.outbox.peek(10)).toEqual([]);
    // Kept, marked, audited once.
    expect(store.outbox.size()).toBe(1);
    expect(store.outbox.quarantined().map((q) => [q.id, q.reason])).toEqual([
      [bad, "unreadable body"],
    ]);
    store.outbox.peek(10);
    const audits = store.audit.list({ limit: 10 }).filter((a) => a.action === "outbox.quarantine");
    expect(audits.map((a) => JSON.parse(a.details))).toEqual([
      { outbox_id: bad, reason: "unreadable body" },
    ]);
  });
});

describe("a held operation that cannot be read", () => {
  test("is quarantined and left out of lists; its job is not held a second time", () => {
    const store = tmp.open();
    const good = store.pending.hold({ op: "guest.destroy", vmid: 101, origin: "job", jobId: "j1" });
    const bad = store.pending.hold({ op: "guest.destroy", vmid: 102, origin: "job", jobId: "j2" });
    store.db.query("UPDATE pending_ops SET params = '{' WHERE id = $id").run({ id: bad.op.id });

    expect(store.pending.list({ status: "pending" }).map((p) => p.id)).toEqual([good.op.id]);
    expect(store.pending.byId(bad.op.id)).toBeUndefined();
    expect(() =>
      store.pending.hold({ op: "guest.destroy", vmid: 102, origin: "job", jobId: "j2" }),
    ).toThrow("cannot be read (quarantined)");
    expect(store.pending.quarantined().map((q) => [q.id, q.reason])).toEqual([
      [bad.op.id, "unreadable params"],
    ]);
    const audits = store.audit
      .list({ limit: 10 })
      .filter((a) => a.action === "pending_ops.quarantine");
    expect(audits.map((a) => [a.target, JSON.parse(a.details)])).toEqual([
      ["guest:102", { pending_ops_id: bad.op.id, reason: "unreadable params" }],
    ]);
  });
});
