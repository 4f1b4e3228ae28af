import { afterEach, expect, test } from "bun:test";
import { StoreError } from "../../src/store/errors.ts";
import { keyFromSeed } from "../authz/support.ts";
import { keyLine } from "../gate/support.ts";
import { TempStateDir, thrown } from "./support.ts";

const a = await keyFromSeed(81, "a@example");
const b = await keyFromSeed(82, "b@example");

let dir: TempStateDir | undefined;
afterEach(() => dir?.cleanup());

test("the set is replaced whole; fingerprints come from the keys; a kept signer keeps its added time", () => {
  dir = new TempStateDir();
  const store = dir.open();
  store.enrolledSigners.importEnrollment("h@t", [
    { name: "a", publicKey: keyLine(a), role: "operational" },
  ]);
  const addedAt = store.enrolledSigners.list()[0]?.addedAt;
  dir.clock.advance(60_000);
  const journalId = store.journal.recordIntent({ op: "signers.rotate", origin: "operator" });
  const change = store.enrolledSigners.rotate(
    [
      { name: "a", publicKey: keyLine(a, "renamed comment"), role: "operational" },
      { name: "b", publicKey: keyLine(b), role: "recovery", expiresAt: "2030-01-01T00:00:00Z" },
    ],
    journalId,
  );
  expect(change.before.map((s) => s.fingerprint)).toEqual([a.publicKey.fingerprint]);
  expect(change.after).toMatchObject([
    { name: "a", fingerprint: a.publicKey.fingerprint, source: "rotation", journalId, addedAt },
    {
      name: "b",
      fingerprint: b.publicKey.fingerprint,
      role: "recovery",
      addedAt: (addedAt ?? 0) + 60_000,
    },
  ]);
});

test("a bad entry changes nothing: unusable key, duplicate name or key, bad role, no journal entry", () => {
  dir = new TempStateDir();
  const store = dir.open();
  store.enrolledSigners.importEnrollment("h@t", [
    { name: "a", publicKey: keyLine(a), role: "operational" },
  ]);
  const journalId = store.journal.recordIntent({ op: "signers.rotate", origin: "operator" });
  const bad = [
    [{ name: "x", publicKey: "ssh-ed25519 AAAA", role: "operational" }],
    [
      { name: "x", publicKey: keyLine(a), role: "operational" },
      { name: "x", publicKey: keyLine(b), role: "operational" },
    ],
    [
      { name: "x", publicKey: keyLine(b), role: "operational" },
      { name: "y", publicKey: keyLine(b, "again"), role: "recovery" },
    ],
    [{ name: "x", publicKey: keyLine(b), role: "admin" }],
  ] as Parameters<typeof store.enrolledSigners.rotate>[0][];
  for (const set of bad) {
    expect(thrown(() => store.enrolledSigners.rotate(set, journalId))).toBeDefined();
    expect(store.enrolledSigners.list().map((s) => s.name)).toEqual(["a"]);
  }
  const e = thrown(() => store.enrolledSigners.rotate([], 0));
  expect(e).toBeInstanceOf(StoreError);
  expect(store.enrolledSigners.list().map((s) => s.name)).toEqual(["a"]);
});

test("operator requests: the shapes the table allows, answered once", () => {
  dir = new TempStateDir();
  const store = dir.open();
  const approve = store.operatorRequests.add({
    pendingId: "po-0000000000000001",
    action: "approve",
    envelope: '{"payload":"x","signature":"y"}',
  });
  const decline = store.operatorRequests.add({
    pendingId: "po-0000000000000002",
    action: "decline",
    reason: "no",
  });
  expect(store.operatorRequests.waiting().map((r) => r.id)).toEqual([approve.id, decline.id]);
  const done = store.operatorRequests.finish(approve.id, {
    outcome: "rejected:expired",
    detail: "line one\nline two",
  });
  expect(done).toMatchObject({
    state: "done",
    outcome: "rejected:expired",
    detail: "line one line two",
  });
  expect(
    thrown(() => store.operatorRequests.finish(approve.id, { outcome: "accepted" })),
  ).toBeInstanceOf(StoreError);
  expect(store.operatorRequests.waiting().map((r) => r.id)).toEqual([decline.id]);
  // The CHECKs hold the shape against any writer.
  expect(() =>
    store.db.run(
      `INSERT INTO operator_requests (pending_id, action, state, created_at, updated_at)
       VALUES ('po-0000000000000003', 'approve', 'waiting', 0, 0)`,
    ),
  ).toThrow();
  expect(() =>
    store.db.run(
      `INSERT INTO operator_requests (pending_id, action, reason, state, created_at, updated_at)
       VALUES ('po-0000000000000003', 'decline', 'r', 'done', 0, 0)`,
    ),
  ).toThrow();
  expect(
    thrown(() => store.operatorRequests.add({ pendingId: "po-1", action: "decline", reason: "" })),
  ).toBeInstanceOf(StoreError);
});
