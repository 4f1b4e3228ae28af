import { afterEach, describe, expect, test } from "bun:test";
import type { Gate } from "../../src/gate/seam.ts";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** A gate that accepts every request as signed, journaling it as `recordIntent` says. */
const acceptingGate = (recordIntent?: Gate["recordIntent"]): Gate => ({
  decide: async () => ({ outcome: "accepted" }),
  ...(recordIntent ? { recordIntent } : {}),
});

async function submitStart(gate: Gate) {
  rig = await Rig.start({}, { gate });
  const before = rig.sim.requestCount;
  const status = await rig.engine.submit({
    op: "guest.start",
    vmid: 102,
    params: {},
    origin: "job",
    jobId: "job-1",
    priority: "interactive",
  });
  return { status, sent: rig.sim.requestCount - before, journal: rig.store.journal.recent() };
}

describe("an intent the journal refused: the operation is rejected, nothing journaled or sent", () => {
  test("a signed decision at a gate that cannot journal one", async () => {
    const r = await submitStart(acceptingGate());
    expect(r.status.state).toBe("rejected");
    expect(r.status.reason).toBe("this gate cannot journal a signed operation; refused");
    expect(r.journal).toEqual([]);
    expect(r.sent).toBe(0);
  });

  test("a replayed nonce", async () => {
    const r = await submitStart(acceptingGate(() => ({ ok: false, reason: "replay" })));
    expect(r.status.state).toBe("rejected");
    expect(r.status.reason).toBe("replay: the signature's nonce was used already");
    expect(r.journal).toEqual([]);
    expect(r.sent).toBe(0);
  });

  test("a store that cannot write the intent", async () => {
    const r = await submitStart(
      acceptingGate(() => {
        throw new Error("database or disk is full");
      }),
    );
    expect(r.status.state).toBe("rejected");
    expect(r.status.reason).toBe("not_recorded: database or disk is full");
    expect(r.journal).toEqual([]);
    expect(r.sent).toBe(0);
  });
});
