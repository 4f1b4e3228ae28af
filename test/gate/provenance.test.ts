import { describe, expect, test } from "bun:test";
import {
  agentProvenance,
  type ProvenanceJournal,
  provenanceFacts,
} from "../../src/gate/provenance.ts";
import type { JournalEntry, JournalPhase } from "../../src/store/journal.ts";

type Step = [op: string, phase: JournalPhase, params?: unknown, provenance?: unknown];

/** A journal of one guest; steps are given oldest first, as they happened. */
function journalOf(steps: Step[], vmid = 101): ProvenanceJournal {
  const entries: JournalEntry[] = steps.map(([op, phase, params, provenance], i) => ({
    id: i + 1,
    vmid,
    op,
    params: params ?? {},
    origin: "operator",
    jobId: null,
    phase,
    upid: null,
    error: undefined,
    attempts: 1,
    provenance,
    resolution: null,
    createdAt: i,
    updatedAt: i,
  }));
  return {
    forGuest: (v) => entries.filter((e) => e.vmid === v).reverse(),
  };
}

const snap = (name: string, o: { txn?: string; scratch?: boolean } = {}) =>
  agentProvenance({ created: [{ kind: "snapshot", vmid: 101, name }], ...o });
const guest = (o: { txn?: string; scratch?: boolean } = {}) =>
  agentProvenance({ created: [{ kind: "guest", vmid: 101 }], ...o });

const del = { op: "guest.snapshot.delete", vmid: 101, params: { name: "s1" } };
const destroy = { op: "guest.destroy", vmid: 101, params: {} };

describe("snapshot provenance", () => {
  test("a finished agent creation with a matching record proves it", () => {
    const j = journalOf([
      ["guest.snapshot", "done", { name: "s1" }, snap("s1", { scratch: true })],
    ]);
    expect(provenanceFacts(j, del).snapshot).toEqual({
      journalId: 1,
      sameTransaction: false,
      scratch: true,
      guestRequest: false,
    });
  });

  test("the transaction matches only the one the engine names", () => {
    const j = journalOf([["guest.snapshot", "done", { name: "s1" }, snap("s1", { txn: "t1" })]]);
    expect(provenanceFacts(j, del, "t1").snapshot?.sameTransaction).toBe(true);
    expect(provenanceFacts(j, del, "t2").snapshot?.sameTransaction).toBe(false);
    expect(provenanceFacts(j, del).snapshot?.sameTransaction).toBe(false);
  });

  const unproven: [string, Step[]][] = [
    ["no record at all", []],
    ["created without provenance", [["guest.snapshot", "done", { name: "s1" }]]],
    ["provenance names another snapshot", [["guest.snapshot", "done", { name: "s1" }, snap("s2")]]],
    [
      "provenance of another shape",
      [["guest.snapshot", "done", { name: "s1" }, { scratch: true, created: "s1" }]],
    ],
    ["creation still in flight", [["guest.snapshot", "posted", { name: "s1" }, snap("s1")]]],
    [
      "deleted since, then made again outside the agent's record",
      [
        ["guest.snapshot", "done", { name: "s1" }, snap("s1", { scratch: true })],
        ["guest.snapshot.delete", "done", { name: "s1" }],
      ],
    ],
    [
      "made again later by a job without a record",
      [
        ["guest.snapshot", "done", { name: "s1" }, snap("s1", { scratch: true })],
        ["guest.snapshot.delete", "done", { name: "s1" }],
        ["guest.snapshot", "done", { name: "s1" }],
      ],
    ],
    [
      "the guest was restored over since",
      [
        ["guest.snapshot", "done", { name: "s1" }, snap("s1", { scratch: true })],
        ["guest.restore", "done", { archive: "a" }],
      ],
    ],
  ];
  for (const [name, steps] of unproven) {
    test(`unproven: ${name}`, () => {
      expect(provenanceFacts(journalOf(steps), del).snapshot).toBeUndefined();
    });
  }

  test("a failed later attempt does not hide the earlier creation", () => {
    const j = journalOf([
      ["guest.snapshot", "done", { name: "s1" }, snap("s1", { scratch: true })],
      ["guest.snapshot", "failed", { name: "s1" }],
      ["guest.snapshot.delete", "failed", { name: "s1" }],
    ]);
    expect(provenanceFacts(j, del).snapshot?.journalId).toBe(1);
  });
});

describe("guest provenance", () => {
  test("the newest creation decides", () => {
    const j = journalOf([["guest.provision", "done", { archive: "a" }, guest({ scratch: true })]]);
    expect(provenanceFacts(j, destroy).guest?.scratch).toBe(true);
  });

  test("destroyed and made again by someone else: unproven", () => {
    const j = journalOf([
      ["guest.provision", "done", { archive: "a" }, guest({ scratch: true })],
      ["guest.destroy", "done"],
      ["guest.provision", "done", { archive: "b" }],
    ]);
    expect(provenanceFacts(j, destroy).guest).toBeUndefined();
  });

  test("a destroy in flight makes what is there unknown", () => {
    const j = journalOf([
      ["guest.provision", "done", { archive: "a" }, guest({ scratch: true })],
      ["guest.destroy", "intent"],
    ]);
    expect(provenanceFacts(j, destroy).guest).toBeUndefined();
  });

  test("another guest's history proves nothing, and host actions have none", () => {
    const j = journalOf([["guest.provision", "done", {}, guest({ scratch: true })]], 101);
    expect(provenanceFacts(j, { ...destroy, vmid: 102 })).toEqual({});
    expect(provenanceFacts(j, { op: "storage.remove", params: {} })).toEqual({});
  });
});
