import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { RECOVERY_ACTION } from "../../src/store/journal.ts";
import { spawnWriter, TempStateDir } from "./support.ts";

let tmp: TempStateDir;
beforeEach(() => {
  tmp = new TempStateDir();
});
afterEach(() => tmp.cleanup());

describe("crash durability (SIGKILL)", () => {
  test("an intent written before the kill is in flight after reopening", async () => {
    const child = await spawnWriter(tmp.dbPath, "intent");
    await child.kill();
    const store = tmp.open();
    expect(store.info.created).toBe(false);
    const inflight = store.journal.inFlight();
    expect(inflight).toHaveLength(1);
    expect(inflight[0]).toMatchObject({
      id: child.journalId,
      phase: "intent",
      op: "guest.start",
      vmid: 101,
    });
    expect(RECOVERY_ACTION.intent).toBe("reconcile_from_actual");
  });

  test("a UPID recorded before the kill is there to resume waiting on", async () => {
    const child = await spawnWriter(tmp.dbPath, "posted");
    await child.kill();
    const store = tmp.open();
    const [entry] = store.journal.inFlight();
    expect(entry).toMatchObject({ id: child.journalId, phase: "posted" });
    expect(entry?.upid).toStartWith("UPID:pve:");
    store.journal.recordTerminal(child.journalId as number, "done", {
      resolution: "recovery: task stopped OK",
    });
    expect(store.journal.inFlight()).toHaveLength(0);
  });
});
