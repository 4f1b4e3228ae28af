import { expect, test } from "bun:test";
import { newSkips } from "../../src/daemon/backup-loop.ts";

/** The daemon logs why a guest is not backed up once, not at every tick (docs/reconcile.md#backup-schedule). */
test("a skip is logged when it starts and when its reason changes, not while it lasts", () => {
  const locked = {
    vmid: 101,
    storage: "nas1",
    reason: "locked",
    detail: "the guest is locked (backup)",
  };
  const first = newSkips(new Map(), [locked]);
  expect(first.fresh).toEqual([locked]);
  const again = newSkips(first.now, [locked]);
  expect(again.fresh).toEqual([]);
  const unchanged = { ...locked, reason: "stopped_unchanged", detail: "stopped" };
  const changed = newSkips(again.now, [unchanged]);
  expect(changed.fresh).toEqual([unchanged]);
  // Gone for a tick (backed up, or due), then skipped again: a new line.
  const gone = newSkips(changed.now, []);
  expect(gone.now.size).toBe(0);
  expect(newSkips(gone.now, [unchanged]).fresh).toEqual([unchanged]);
  // Another tier of the same guest is its own skip.
  const other = { ...locked, storage: "pbs1" };
  expect(newSkips(first.now, [locked, other]).fresh).toEqual([other]);
});
