import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { StoreError } from "../../src/store/errors.ts";
import type { OverrideInput } from "../../src/store/guest-overrides.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

/** A journaled local-API grow of `vmid` with its override rows, like the engine writes them. */
function grow(
  vmid: number,
  fields: Partial<Record<"cores" | "memory_mib", [number, number | null]>>,
) {
  const params: Record<string, number> = {};
  if (fields.cores) params.cores = fields.cores[0];
  if (fields.memory_mib) params.memoryMiB = fields.memory_mib[0];
  const journalId = store.journal.recordIntent({
    vmid,
    op: "guest.config",
    params,
    origin: "localapi",
  });
  for (const [field, [value, desiredValue]] of Object.entries(fields) as [
    OverrideInput["field"],
    [number, number | null],
  ][]) {
    store.guestOverrides.record({ journalId, vmid, field, value, desiredValue });
  }
  return journalId;
}

const brief = (s: Store) =>
  s.guestOverrides
    .inForce()
    .map((o) => `${o.vmid} ${o.field}=${o.value} (desired ${o.desiredValue}) #${o.journalId}`);

describe("GuestOverrides", () => {
  test("a grow is in force only once its journal entry is done", () => {
    const id = grow(101, { cores: [4, 2], memory_mib: [2048, null] });
    expect(brief(store)).toEqual([]);
    tmp.clock.advance(1000);
    store.journal.recordTerminal(id, "done", { resolution: "synchronous call returned" });
    expect(store.guestOverrides.inForce()).toEqual([
      {
        journalId: id,
        vmid: 101,
        field: "cores",
        value: 4,
        desiredValue: 2,
        createdAt: tmp.clock.t - 1000,
        since: tmp.clock.t,
        reportedAt: null,
      },
      {
        journalId: id,
        vmid: 101,
        field: "memory_mib",
        value: 2048,
        desiredValue: null,
        createdAt: tmp.clock.t - 1000,
        since: tmp.clock.t,
        reportedAt: null,
      },
    ]);
  });

  test("the newest done grow of a field counts; a failed one never does and is forgotten", () => {
    const first = grow(101, { cores: [4, 2] });
    store.journal.recordTerminal(first, "done");
    const second = grow(101, { cores: [6, 2] });
    store.journal.recordTerminal(second, "done");
    const failed = grow(101, { cores: [8, 2] });
    store.journal.recordTerminal(failed, "failed", { error: { cause: "refused" } });
    const other = grow(102, { memory_mib: [1024, 512] });
    store.journal.recordTerminal(other, "abandoned");
    expect(brief(store)).toEqual([`101 cores=6 (desired 2) #${second}`]);
    expect(store.guestOverrides.forgetUntaken()).toBe(2);
    expect(store.guestOverrides.forGuest(101).map((o) => o.journalId)).toEqual([first, second]);
    expect(store.guestOverrides.forGuest(102)).toEqual([]);
  });

  test("clear removes a field through a journal id and keeps a later grow and other fields", () => {
    const a = grow(101, { cores: [4, 2], memory_mib: [2048, 1024] });
    store.journal.recordTerminal(a, "done");
    const b = grow(101, { cores: [6, 2] });
    store.journal.recordTerminal(b, "done");
    const inFlight = grow(101, { cores: [8, 2] });
    expect(store.guestOverrides.clear(101, "cores", b)).toBe(2);
    expect(brief(store)).toEqual([`101 memory_mib=2048 (desired 1024) #${a}`]);
    store.journal.recordTerminal(inFlight, "done");
    expect(brief(store)).toEqual([
      `101 cores=8 (desired 2) #${inFlight}`,
      `101 memory_mib=2048 (desired 1024) #${a}`,
    ]);
  });

  test("markReported is true the first time only", () => {
    const id = grow(101, { cores: [4, 2] });
    store.journal.recordTerminal(id, "done");
    expect(store.guestOverrides.markReported(id, "cores")).toBe(true);
    expect(store.guestOverrides.markReported(id, "cores")).toBe(false);
    expect(store.guestOverrides.inForce()[0]?.reportedAt).toBe(tmp.clock.t);
  });

  test("overrides survive a reopen of the database", () => {
    const id = grow(101, { cores: [4, 2] });
    store.journal.recordTerminal(id, "done");
    store.close();
    store = tmp.open();
    expect(brief(store)).toEqual([`101 cores=4 (desired 2) #${id}`]);
  });

  test("bad input is refused with a clear error and writes nothing", () => {
    const id = store.journal.recordIntent({
      vmid: 101,
      op: "guest.config",
      params: { cores: 4 },
      origin: "localapi",
    });
    const ok: OverrideInput = {
      journalId: id,
      vmid: 101,
      field: "cores",
      value: 4,
      desiredValue: 2,
    };
    const bad: [Partial<OverrideInput> | Record<string, unknown>, string][] = [
      [{ field: "swap" }, "override field must be one of cores, memory_mib"],
      [{ value: 0 }, "override value must be a positive integer"],
      [{ value: 2.5 }, "override value must be a positive integer"],
      [{ desiredValue: -1 }, "desired value must be a positive integer"],
      [{ vmid: 7 }, "vmid must be an integer in 100..999999999"],
      [{ journalId: 0 }, "journal id must be a positive integer"],
    ];
    for (const [change, message] of bad) {
      const err = thrown(() => store.guestOverrides.record({ ...ok, ...change } as OverrideInput));
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toContain(message);
    }
    // A grow must name a journaled request: the foreign key refuses an unknown one.
    expect(() => store.guestOverrides.record({ ...ok, journalId: id + 100 })).toThrow();
    expect(store.guestOverrides.forGuest(101)).toEqual([]);
  });
});
