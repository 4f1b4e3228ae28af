import { describe, expect, test } from "bun:test";
import {
  type RecoveryJournal,
  type ResolveClient,
  resolveInFlight,
} from "../../src/reconcile/resolve-in-flight.ts";
import type { JournalEntry } from "../../src/store/journal.ts";

/** A synchronous `guest.config` left at `intent`: recovery reads the guest to settle it. */
function entry(params: unknown): JournalEntry {
  return {
    id: 7,
    vmid: 102,
    op: "guest.config",
    params,
    origin: "reconcile",
    jobId: null,
    phase: "intent",
    upid: null,
    error: null,
    attempts: 1,
    provenance: null,
    resolution: null,
    createdAt: 0,
    updatedAt: 0,
  };
}

function journal(): RecoveryJournal & { terminals: { id: number; kind: string }[] } {
  const terminals: { id: number; kind: string }[] = [];
  return {
    terminals,
    forGuest: () => [],
    recordUpid: () => {},
    recordTerminal: (id: number, kind: string) => {
      terminals.push({ id, kind });
    },
  } as unknown as RecoveryJournal & { terminals: { id: number; kind: string }[] };
}

const rules = { now: () => 0, windowMs: 0, offset: async () => ({ offsetMs: 0 }) } as never;

/** A client whose config read fails with `err`; nothing else is called on this path. */
const failingRead = (err: Error) =>
  ({ guestConfig: () => Promise.reject(err) }) as unknown as ResolveClient;

describe("settling a synchronous intent by reading the guest", () => {
  test("stored params that no longer parse (a real ZodError): abandoned, nothing read", async () => {
    const j = journal();
    const r = await resolveInFlight(
      failingRead(new Error("must not be read")),
      j,
      entry({ cores: "many" }),
      "recovery",
      rules,
    );
    expect(r).toMatchObject({ kind: "abandoned", how: "recovery: stored params are invalid" });
    expect(j.terminals).toEqual([{ id: 7, kind: "abandoned" }]);
  });

  test("an error that only carries the name ZodError is not taken for bad params", async () => {
    class Impostor extends Error {
      override readonly name = "ZodError";
    }
    const j = journal();
    const read = resolveInFlight(
      failingRead(new Impostor("read failed")),
      j,
      entry({ cores: 2 }),
      "recovery",
      rules,
    );
    // The read failed: the entry stays in flight for the next attempt, nothing is written.
    await expect(read).rejects.toBeInstanceOf(Impostor);
    expect(j.terminals).toEqual([]);
  });
});
