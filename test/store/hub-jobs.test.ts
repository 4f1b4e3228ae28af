import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { HUB_JOBS_KEEP_TERMINAL, type HubJobRecord } from "../../src/store/hub-jobs.ts";
import { TempStateDir } from "./support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

const T0 = Date.UTC(2026, 0, 1);

function record(over: Partial<HubJobRecord> = {}): HubJobRecord {
  return { jobId: "job-1", signed: false, reported: [], terminal: false, updatedAt: T0, ...over };
}

function jobResults(tmpStore: ReturnType<TempStateDir["open"]>): unknown[] {
  return tmpStore.outbox
    .peek(1000)
    .filter((i) => i.kind === "job_result")
    .map((i) => i.body);
}

describe("hub job ledger in the store", () => {
  test("put, get and open round-trip; open lists only jobs without an outcome", () => {
    const store = tmp.open();
    store.hubJobs.put(record({ jobId: "a", operationId: "op-1", updatedAt: T0 + 2 }));
    store.hubJobs.put(record({ jobId: "b", updatedAt: T0 + 1 }));
    store.hubJobs.put(
      record({ jobId: "c", reported: ["ok"], terminal: true, operationId: "op-3" }),
    );
    expect(store.hubJobs.get("a")).toEqual(
      record({ jobId: "a", operationId: "op-1", updatedAt: T0 + 2 }),
    );
    expect(store.hubJobs.get("nope")).toBeUndefined();
    expect(store.hubJobs.open().map((r) => r.jobId)).toEqual(["b", "a"]);
  });

  test("a result is queued and noted in one commit", () => {
    const store = tmp.open();
    const next = record({ reported: ["pending_signature"], operationId: "op-1" });
    expect(store.hubJobs.queueResult(next, { kind: "job_result", body: { job_id: "job-1" } })).toBe(
      true,
    );
    expect(store.hubJobs.get("job-1")).toEqual(next);
    expect(jobResults(store)).toEqual([{ job_id: "job-1" }]);
  });

  test("a failing ledger write rolls back the outbox row", () => {
    const store = tmp.open();
    store.db.run(
      `CREATE TEMP TRIGGER fail_note BEFORE INSERT ON hub_jobs
       BEGIN SELECT RAISE(ABORT, 'ledger write failed'); END`,
    );
    expect(() =>
      store.hubJobs.queueResult(record({ reported: ["ok"], terminal: true }), {
        kind: "job_result",
        body: { job_id: "job-1" },
      }),
    ).toThrow("ledger write failed");
    expect(store.outbox.size()).toBe(0);
    expect(store.hubJobs.get("job-1")).toBeUndefined();
  });

  test("a failing outbox write leaves the ledger as it was", () => {
    const store = tmp.open();
    store.hubJobs.put(record({ operationId: "op-1" }));
    store.db.run(
      `CREATE TEMP TRIGGER fail_queue BEFORE INSERT ON outbox
       BEGIN SELECT RAISE(ABORT, 'outbox write failed'); END`,
    );
    expect(() =>
      store.hubJobs.queueResult(record({ operationId: "op-1", reported: ["ok"], terminal: true }), {
        kind: "job_result",
        body: { job_id: "job-1" },
      }),
    ).toThrow("outbox write failed");
    expect(store.hubJobs.get("job-1")).toEqual(record({ operationId: "op-1" }));
    expect(store.outbox.size()).toBe(0);
  });

  test("a state already noted is not queued again, even from a stale copy of the entry", () => {
    const store = tmp.open();
    const stale = record({ operationId: "op-1" });
    const once = { ...stale, reported: ["ok" as const], terminal: true };
    expect(store.hubJobs.queueResult(once, { kind: "job_result", body: { n: 1 } })).toBe(true);
    expect(store.hubJobs.queueResult(once, { kind: "job_result", body: { n: 2 } })).toBe(false);
    expect(jobResults(store)).toEqual([{ n: 1 }]);
  });

  test("the table refuses state lists that cannot happen, and writes nothing", () => {
    const store = tmp.open();
    const bad: HubJobRecord[] = [
      record({ reported: ["ok", "failed"], terminal: true }),
      record({ reported: ["ok", "pending_signature"], terminal: true }),
      record({ reported: ["ok"], terminal: false }),
      record({ reported: ["pending_signature"], terminal: true }),
    ];
    for (const r of bad) {
      expect(() => store.hubJobs.queueResult(r, { kind: "job_result", body: {} })).toThrow(
        "CHECK constraint failed",
      );
    }
    expect(() =>
      store.hubJobs.put(record({ reported: ["done" as never], terminal: true })),
    ).toThrow(/unknown hub job state/);
    expect(store.outbox.size()).toBe(0);
    expect(store.hubJobs.get("job-1")).toBeUndefined();
  });

  test("finished jobs beyond the keep limit are dropped, oldest first; open ones never", () => {
    const store = tmp.open();
    store.hubJobs.put(record({ jobId: "open-0", updatedAt: T0 - 1 }));
    const finished: HubJobRecord[] = [];
    for (let i = 0; i <= HUB_JOBS_KEEP_TERMINAL; i++) {
      finished.push(
        record({ jobId: `done-${i}`, reported: ["ok"], terminal: true, updatedAt: T0 + i }),
      );
    }
    expect(store.hubJobs.importRecords(finished)).toBe(HUB_JOBS_KEEP_TERMINAL + 1);
    expect(store.hubJobs.get("done-0")).toBeUndefined();
    expect(store.hubJobs.get("done-1")?.terminal).toBe(true);
    expect(store.hubJobs.get("open-0")).toBeDefined();
  });

  test("import keeps jobs already in the table as they are", () => {
    const store = tmp.open();
    store.hubJobs.put(
      record({ jobId: "a", reported: ["ok"], terminal: true, operationId: "op-1" }),
    );
    const added = store.hubJobs.importRecords([
      record({ jobId: "a", operationId: "op-1" }),
      record({ jobId: "b" }),
    ]);
    expect(added).toBe(1);
    expect(store.hubJobs.get("a")?.reported).toEqual(["ok"]);
    expect(store.hubJobs.get("b")).toEqual(record({ jobId: "b" }));
  });

  test("the ledger survives closing and reopening the store", () => {
    const a = tmp.open();
    a.hubJobs.queueResult(record({ reported: ["pending_signature"], operationId: "op-1" }), {
      kind: "job_result",
      body: {},
    });
    a.close();
    const b = tmp.open();
    expect(b.hubJobs.open()).toEqual([
      record({ reported: ["pending_signature"], operationId: "op-1" }),
    ]);
  });
});
