import { afterEach, beforeEach, expect, test } from "bun:test";
import { lifecycleJournal } from "../../src/reconcile/guest-lifecycle.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "../store/support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

const intent = (op: string, vmid = 101) => store.journal.recordIntent({ op, vmid, origin: "job" });

test("a destroy's success retires the guest's identity and its tokens in the same write", () => {
  const journal = lifecycleJournal(store);
  const token = store.guestTokens.mint(101);
  const failed = intent("guest.destroy");
  journal.recordTerminal(failed, "failed", { error: { cause: "x" } });
  expect(store.guestTokens.resolve(token.token)).not.toBeNull();
  const id = intent("guest.destroy");
  journal.recordUpid(id, "UPID:pve:00000001:00000002:00000003:vzdestroy:101:agent@pve!t:");
  journal.recordTerminal(id, "done", { resolution: "task: ended OK" });
  expect(store.guestTokens.resolve(token.token)).toBeNull();
  expect(store.guestIdentities.current(101)).toBeUndefined();
  expect(store.guestIdentities.byUid(token.guestUid)).toMatchObject({ retiredBy: id });
  const row = store.audit.list().find((r) => r.action === "guest.identity.retire");
  expect(row).toMatchObject({ actor: "agent", target: "guest:101", outcome: "retired" });
  expect(JSON.parse(row?.details ?? "null")).toEqual({
    guest_uid: token.guestUid,
    revoked: 1,
    journal: id,
    by: "guest.destroy",
  });
});

test("a provision or restore's success makes a new identity; other successes keep or give one", () => {
  const journal = lifecycleJournal(store);
  const failedStart = intent("guest.start");
  journal.recordTerminal(failedStart, "failed", { error: { cause: "x" } });
  expect(store.guestIdentities.current(101)).toBeUndefined();
  const start = intent("guest.start");
  journal.recordTerminal(start, "done");
  const before = store.guestIdentities.current(101);
  expect(before).toBeDefined();
  journal.recordTerminal(intent("guest.stop"), "done");
  expect(store.guestIdentities.current(101)?.uid).toBe(before?.uid as string);
  const restore = intent("guest.restore");
  journal.recordTerminal(restore, "done");
  const after = store.guestIdentities.current(101);
  expect(after?.uid).not.toBe(before?.uid as string);
  const provision = intent("guest.provision", 150);
  journal.recordTerminal(provision, "done");
  expect(store.guestIdentities.current(150)).toBeDefined();
});

test("when the identity change cannot be written, the success is not journaled either", () => {
  const journal = lifecycleJournal(store);
  const token = store.guestTokens.mint(101);
  const id = intent("guest.destroy");
  store.db.run(
    "CREATE TRIGGER refuse BEFORE UPDATE ON guest_identities BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  expect(() => journal.recordTerminal(id, "done")).toThrow("refused");
  expect(store.journal.byId(id)?.phase).toBe("intent");
  expect(store.guestTokens.resolve(token.token)).not.toBeNull();
});
