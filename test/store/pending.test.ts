import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { StoreError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

const destroy = {
  op: "guest.destroy",
  vmid: 101,
  params: { purge: true },
  origin: "job" as const,
  jobId: "job-1",
};

describe("pending operations", () => {
  test("held with canonical params, visible, and held once per job", () => {
    const { op, created } = store.pending.hold({
      ...destroy,
      params: { purge: true, a: 1 },
      reason: "destroys a guest",
    });
    expect(created).toBe(true);
    expect(op).toMatchObject({
      op: "guest.destroy",
      vmid: 101,
      params: { a: 1, purge: true },
      paramsJson: '{"a":1,"purge":true}',
      origin: "job",
      jobId: "job-1",
      status: "pending",
      reason: "destroys a guest",
      resolution: null,
      journalId: null,
      createdAt: tmp.clock.now(),
    });
    expect(op.id).toMatch(/^po-[0-9a-f]{16}$/);
    const again = store.pending.hold(destroy);
    expect(again).toEqual({ op, created: false });
    expect(store.pending.list({ status: "pending" })).toEqual([op]);
    expect(store.pending.byJob("job-1")).toEqual(op);
  });

  test("release, reject and expire leave pending exactly once", () => {
    const a = store.pending.hold(destroy).op;
    const b = store.pending.hold({ ...destroy, jobId: "job-2" }).op;
    const c = store.pending.hold({ ...destroy, jobId: undefined, origin: "operator" }).op;
    const journalId = store.journal.recordIntent({
      op: "guest.destroy",
      vmid: 101,
      origin: "job",
      jobId: "job-1",
    });
    expect(store.pending.release(a.id, journalId)).toMatchObject({ status: "released", journalId });
    expect(store.pending.reject(b.id, "rejected:wrong_host")).toMatchObject({
      status: "rejected",
      resolution: "rejected:wrong_host",
    });
    tmp.clock.advance(1000);
    expect(store.pending.expireOlderThan(tmp.clock.now())).toBe(1);
    expect(store.pending.byId(c.id)?.status).toBe("expired");
    for (const fn of [
      () => store.pending.release(a.id, journalId),
      () => store.pending.reject(a.id, "late"),
      () => store.pending.release(c.id, journalId),
    ]) {
      expect((thrown(fn) as StoreError).kind).toBe("invalid_transition");
    }
    expect((thrown(() => store.pending.reject("po-none", "x")) as StoreError).kind).toBe(
      "not_found",
    );
    expect(store.pending.list({ status: "pending" })).toEqual([]);
    expect(store.pending.list()).toHaveLength(3);
  });

  test("release must name a journal entry that exists", () => {
    const a = store.pending.hold(destroy).op;
    expect((thrown(() => store.pending.release(a.id, 424242)) as StoreError).kind).toBe(
      "not_found",
    );
    expect(store.pending.byId(a.id)?.status).toBe("pending");
  });

  test("bad input is refused and nothing is held", () => {
    for (const fn of [
      () => store.pending.hold({ ...destroy, op: "destroy" }),
      () => store.pending.hold({ ...destroy, vmid: 7 }),
      () => store.pending.hold({ ...destroy, origin: "guest" as never }),
      () => store.pending.hold({ ...destroy, params: { n: Number.POSITIVE_INFINITY } }),
    ]) {
      expect((thrown(fn) as StoreError).kind).toBe("invalid_argument");
    }
    expect(store.pending.list()).toEqual([]);
  });
});
