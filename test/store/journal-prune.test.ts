import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  agentProvenance,
  PROVENANCE_LOOKBACK,
  provenanceFacts,
} from "../../src/gate/provenance.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "./support.ts";

const DAY = 86_400_000;
let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

function finished(op: string, vmid: number, provenance?: unknown): number {
  const id = store.journal.recordIntent({ op, vmid, origin: "reconcile" });
  store.journal.recordTerminal(id, "done", provenance === undefined ? {} : { provenance });
  return id;
}

const prune = () =>
  store.journal.prune({
    before: tmp.clock.now() - 30 * DAY,
    provenanceLookback: PROVENANCE_LOOKBACK,
  });

describe("journal retention", () => {
  test("finished entries past the retention go; newer ones and in-flight ones stay", () => {
    const old = finished("guest.start", 101);
    const stuck = store.journal.recordIntent({ op: "guest.stop", vmid: 101, origin: "reconcile" });
    tmp.clock.advance(31 * DAY);
    const recent = finished("guest.start", 102);
    expect(prune()).toBe(1);
    expect(store.journal.byId(old)).toBeUndefined();
    expect(store.journal.byId(stuck)?.phase).toBe("intent");
    expect(store.journal.byId(recent)?.phase).toBe("done");
  });

  test("entries a held operation or a guest override points at are kept", () => {
    const released = finished("guest.destroy", 103);
    const held = store.pending.hold({ op: "guest.destroy", vmid: 103, origin: "job" });
    store.pending.release(held.op.id, released);
    const grow = store.journal.recordIntent({ op: "guest.config", vmid: 104, origin: "localapi" });
    store.guestOverrides.record({
      journalId: grow,
      vmid: 104,
      field: "cores",
      value: 4,
      desiredValue: 2,
    });
    store.journal.recordTerminal(grow, "done");
    tmp.clock.advance(31 * DAY);
    expect(prune()).toBe(0);
    expect(store.journal.byId(released)).toBeDefined();
    expect(store.journal.byId(grow)).toBeDefined();
  });

  test("an old creation still proves the agent made the guest; once destroyed it goes, the destroy after it", () => {
    const vmid = 105;
    const created = finished(
      "guest.provision",
      vmid,
      agentProvenance({ created: [{ kind: "guest", vmid }] }),
    );
    for (let i = 0; i < 3; i++) finished("guest.start", vmid);
    tmp.clock.advance(31 * DAY);
    expect(prune()).toBe(3);
    const facts = provenanceFacts(store.journal, { op: "guest.destroy", vmid, params: {} });
    expect(facts.guest?.journalId).toBe(created);

    tmp.clock.advance(-31 * DAY);
    const destroyed = finished("guest.destroy", vmid);
    tmp.clock.advance(31 * DAY);
    expect(prune()).toBe(1);
    expect(store.journal.byId(created)).toBeUndefined();
    // The destroy stayed while the creation it ends was there; now it may go too.
    expect(store.journal.byId(destroyed)).toBeDefined();
    expect(prune()).toBe(1);
    expect(store.journal.byId(destroyed)).toBeUndefined();
  });

  test("bad arguments are refused and nothing is deleted", () => {
    finished("guest.start", 101);
    tmp.clock.advance(31 * DAY);
    expect(() => store.journal.prune({ before: -1, provenanceLookback: 10 })).toThrow();
    expect(() => store.journal.prune({ before: tmp.clock.now(), provenanceLookback: 0 })).toThrow();
    expect(store.journal.recent(10)).toHaveLength(1);
  });
});
