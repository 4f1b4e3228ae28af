import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { StoreError } from "../../src/store/errors.ts";
import { RECOVERY_ACTION } from "../../src/store/journal.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

const UPID = "UPID:pve:0000A1B2:0001C3D4:6650A0B0:vzsnapshot:101:root@pam!felhom:";
const OTHER_UPID = "UPID:pve:0000A1B3:0001C3D5:6650A0B1:vzsnapshot:101:root@pam!felhom:";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

function intent(extra: Partial<Parameters<Store["journal"]["recordIntent"]>[0]> = {}): number {
  return store.journal.recordIntent({
    vmid: 101,
    op: "guest.snapshot",
    params: { snapname: "pre-deploy", description: "before v2" },
    origin: "localapi",
    ...extra,
  });
}

describe("journal", () => {
  test("intent → posted → done, with timestamps from the clock", () => {
    const id = intent({ provenance: { createdBy: "agent" } });
    const created = store.journal.byId(id);
    expect(created).toMatchObject({
      id,
      vmid: 101,
      op: "guest.snapshot",
      params: { snapname: "pre-deploy", description: "before v2" },
      origin: "localapi",
      jobId: null,
      phase: "intent",
      upid: null,
      attempts: 1,
      provenance: { createdBy: "agent" },
      createdAt: tmp.clock.now(),
      updatedAt: tmp.clock.now(),
    });
    tmp.clock.advance(1000);
    store.journal.recordUpid(id, UPID);
    expect(store.journal.byId(id)).toMatchObject({
      phase: "posted",
      upid: UPID,
      updatedAt: tmp.clock.now(),
    });
    tmp.clock.advance(1000);
    store.journal.recordTerminal(id, "done", { resolution: "task OK" });
    const done = store.journal.byId(id);
    expect(done).toMatchObject({
      phase: "done",
      upid: UPID,
      resolution: "task OK",
      error: undefined,
    });
    expect(done?.createdAt).toBe(tmp.clock.now() - 2000);
  });

  test("a synchronous call goes straight from intent to done; failures keep their error", () => {
    const a = intent({ op: "guest.config", params: { cores: 2 } });
    store.journal.recordTerminal(a, "done");
    const b = intent({ op: "guest.config", params: { cores: 64 } });
    store.journal.recordTerminal(b, "failed", {
      error: { status: 400, message: "cores: value too big" },
    });
    expect(store.journal.byId(a)?.phase).toBe("done");
    expect(store.journal.byId(b)).toMatchObject({
      phase: "failed",
      error: { status: 400, message: "cores: value too big" },
    });
  });

  test("a terminal record can name what the task created and how it was resolved", () => {
    const id = intent();
    store.journal.recordUpid(id, UPID);
    store.journal.recordTerminal(id, "done", {
      provenance: { snapshot: "felhom-pre-deploy-1", createdBy: "agent" },
      resolution: "recovery: task stopped with OK",
    });
    expect(store.journal.byId(id)).toMatchObject({
      provenance: { snapshot: "felhom-pre-deploy-1", createdBy: "agent" },
      resolution: "recovery: task stopped with OK",
    });
  });

  test("inFlight lists intent and posted entries only, oldest first", () => {
    const a = intent();
    const b = intent({ vmid: 102 });
    const c = intent({ vmid: 103 });
    store.journal.recordUpid(b, UPID);
    store.journal.recordTerminal(c, "abandoned", { resolution: "operator gave up" });
    const inflight = store.journal.inFlight();
    expect(inflight.map((e) => [e.id, e.phase])).toEqual([
      [a, "intent"],
      [b, "posted"],
    ]);
    expect(inflight.map((e) => RECOVERY_ACTION[e.phase as "intent" | "posted"])).toEqual([
      "reconcile_from_actual",
      "resume_wait",
    ]);
  });

  test("invalid transitions throw and change nothing", () => {
    const id = intent();
    store.journal.recordUpid(id, UPID);
    store.journal.recordTerminal(id, "done");
    const before = store.journal.byId(id);
    for (const attempt of [
      () => store.journal.recordUpid(id, UPID),
      () => store.journal.recordTerminal(id, "failed"),
      () => store.journal.recordTerminal(id, "done"),
      () => store.journal.recordTerminal(id, "abandoned"),
    ]) {
      const err = thrown(attempt);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("invalid_transition");
      expect((err as StoreError).message).toContain("is done");
    }
    expect(store.journal.byId(id)).toEqual(before);
  });

  test("the same UPID again is a no-op; a different one is refused", () => {
    const id = intent();
    store.journal.recordUpid(id, UPID);
    store.journal.recordUpid(id, UPID);
    const err = thrown(() => store.journal.recordUpid(id, OTHER_UPID)) as StoreError;
    expect(err.kind).toBe("invalid_transition");
    expect(store.journal.byId(id)?.upid).toBe(UPID);
  });

  test("bad input is refused and writes nothing", () => {
    const cases: [string, () => unknown][] = [
      ["op", () => intent({ op: "snapshot" })],
      ["vmid", () => intent({ vmid: 99 })],
      ["vmid", () => intent({ vmid: 1.5 })],
      ["origin", () => intent({ origin: "hub" as never })],
      ["params", () => intent({ params: { at: new Date() } })],
      ["params", () => intent({ params: { n: Number.NaN } })],
      ["attempts", () => intent({ attempts: 0 })],
    ];
    for (const [, fn] of cases) {
      expect((thrown(fn) as StoreError).kind).toBe("invalid_argument");
    }
    const id = intent();
    expect((thrown(() => store.journal.recordUpid(id, "not-a-upid")) as StoreError).kind).toBe(
      "invalid_argument",
    );
    expect(
      (thrown(() => store.journal.recordTerminal(id, "posted" as never)) as StoreError).kind,
    ).toBe("invalid_argument");
    expect((thrown(() => store.journal.recordUpid(9999, UPID)) as StoreError).kind).toBe(
      "not_found",
    );
    expect(store.journal.recent(100)).toHaveLength(1);
  });

  test("params are stored canonically (key order does not matter)", () => {
    const a = intent({ params: { b: 1, a: { d: 2, c: 3 } } });
    const row = store.db.query("SELECT params FROM journal WHERE id = $id").get({ id: a }) as {
      params: string;
    };
    expect(row.params).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  test("recent, forGuest and forJob", () => {
    const a = intent({ vmid: 101 });
    const b = intent({ vmid: 102, jobId: "job-7", origin: "job" });
    const c = intent({ vmid: 101 });
    const d = store.journal.recordIntent({
      op: "storage.add",
      params: { storage: "usb1" },
      origin: "operator",
    });
    expect(store.journal.recent(2).map((e) => e.id)).toEqual([d, c]);
    expect(store.journal.forGuest(101).map((e) => e.id)).toEqual([c, a]);
    expect(store.journal.forJob("job-7").map((e) => e.id)).toEqual([b]);
    expect(store.journal.recent(10).find((e) => e.op === "storage.add")?.vmid).toBeNull();
  });
});

describe("nonce + intent in one transaction", () => {
  test("first use journals the execution; a replay writes nothing", () => {
    const held = store.pending.hold({
      op: "guest.destroy",
      vmid: 101,
      origin: "job",
      jobId: "job-1",
    }).op;
    const first = store.recordSignedIntent({
      nonce: "n-1",
      expiresAt: tmp.clock.now() + 60_000,
      intent: { vmid: 101, op: "guest.destroy", origin: "job", jobId: "job-1" },
      releasePendingId: held.id,
    });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(store.journal.byId(first.journalId)?.phase).toBe("intent");
    expect(store.pending.byId(held.id)).toMatchObject({
      status: "released",
      journalId: first.journalId,
    });

    const replay = store.recordSignedIntent({
      nonce: "n-1",
      expiresAt: tmp.clock.now() + 60_000,
      intent: { vmid: 101, op: "guest.destroy", origin: "job", jobId: "job-1" },
    });
    expect(replay).toEqual({ ok: false, reason: "replay" });
    expect(store.journal.recent(10)).toHaveLength(1);
  });

  test("when any part fails nothing is kept: the nonce stays unused", () => {
    const held = store.pending.hold({ op: "guest.destroy", vmid: 101, origin: "job" }).op;
    store.pending.reject(held.id, "operator declined");
    const err = thrown(() =>
      store.recordSignedIntent({
        nonce: "n-2",
        expiresAt: tmp.clock.now() + 60_000,
        intent: { vmid: 101, op: "guest.destroy", origin: "job" },
        releasePendingId: held.id,
      }),
    ) as StoreError;
    expect(err.kind).toBe("invalid_transition");
    expect(store.nonces.isConsumed("n-2")).toBe(false);
    expect(store.journal.recent(10)).toHaveLength(0);
  });
});

describe("host-level entries", () => {
  test("forHost lists only entries without a guest, newest first", () => {
    const guest = intent();
    const a = store.journal.recordIntent({
      op: "storage.add",
      params: { id: "usb1" },
      origin: "reconcile",
    });
    const b = store.journal.recordIntent({
      op: "storage.remove",
      params: { id: "usb1" },
      origin: "job",
    });
    expect(store.journal.forHost().map((e) => e.id)).toEqual([b, a]);
    expect(store.journal.forHost(1).map((e) => e.id)).toEqual([b]);
    expect(store.journal.forHost().some((e) => e.id === guest)).toBe(false);
  });
});
