import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { type HubIdentity, readIdentity, writeIdentity } from "../../src/hub/identity.ts";
import {
  emptyMovedSigners,
  enrollmentMark,
  importEnrollmentSigners,
} from "../../src/hub/signer-import.ts";
import { silentLogger } from "../../src/log/types.ts";
import { SIGNER_SET_AUDIT_ACTION } from "../../src/store/signer-set-audit.ts";
import { keyFromSeed } from "../authz/support.ts";
import { keyLine } from "../gate/support.ts";
import { TempStateDir } from "../store/support.ts";

// The enrollment file's signers move into the store once per enrollment
// (src/store/README.md#enrolled-signers); after that the store's set is the one in force.

const ops = await keyFromSeed(41, "ops@example");
const vault = await keyFromSeed(42, "vault@example");
const bob = await keyFromSeed(43, "bob@example");

let dir: TempStateDir | undefined;
afterEach(() => dir?.cleanup());

function identity(over: Partial<HubIdentity> = {}): HubIdentity {
  return {
    version: 1,
    host_id: "host-imp",
    hub_url: "https://hub.example",
    credential: "c".repeat(43),
    host_key: {
      public: Buffer.alloc(32, 1).toString("base64"),
      seed: Buffer.alloc(32, 2).toString("base64"),
    },
    signers: [
      { name: "ops", public_key: keyLine(ops), role: "operational" },
      {
        name: "vault",
        public_key: keyLine(vault),
        role: "recovery",
        expires_at: "2030-01-01T00:00:00Z",
      },
    ],
    enrolled_at: "2026-06-01T00:00:00.000Z",
    ...over,
  } as HubIdentity;
}

test("imported once, audited with the fingerprints; a rotation since is not undone by the next start", () => {
  dir = new TempStateDir();
  const store = dir.open();
  expect(importEnrollmentSigners(store, undefined, silentLogger)).toEqual({ kind: "not_enrolled" });
  const id = identity();
  expect(importEnrollmentSigners(store, id, silentLogger)).toEqual({
    kind: "imported",
    signers: 2,
    skipped: 0,
  });
  expect(store.enrolledSigners.importedFrom()).toBe(enrollmentMark(id));
  expect(store.enrolledSigners.list()).toMatchObject([
    {
      name: "ops",
      fingerprint: ops.publicKey.fingerprint,
      role: "operational",
      source: "enrollment",
    },
    {
      name: "vault",
      fingerprint: vault.publicKey.fingerprint,
      role: "recovery",
      expiresAt: "2030-01-01T00:00:00Z",
    },
  ]);
  const audit = store.audit.list({}).filter((r) => r.action === SIGNER_SET_AUDIT_ACTION);
  expect(audit).toHaveLength(1);
  expect(JSON.parse(audit[0]?.details ?? "{}")).toMatchObject({
    by: "enrollment",
    before: [],
    added: [ops.publicKey.fingerprint, vault.publicKey.fingerprint],
  });

  // A rotation replaces the set; the identity file still lists the old one.
  const journalId = store.journal.recordIntent({ op: "signers.rotate", origin: "operator" });
  store.enrolledSigners.rotate(
    [{ name: "bob", publicKey: keyLine(bob), role: "operational" }],
    journalId,
  );
  store.close();
  const again = dir.open();
  expect(importEnrollmentSigners(again, id, silentLogger)).toEqual({ kind: "current" });
  expect(again.enrolledSigners.list().map((s) => s.name)).toEqual(["bob"]);

  // A new enrollment (another time) is imported again, replacing the set.
  const next = identity({ enrolled_at: "2026-07-01T00:00:00.000Z" });
  expect(importEnrollmentSigners(again, next, silentLogger)).toMatchObject({ kind: "imported" });
  expect(again.enrolledSigners.list().map((s) => s.name)).toEqual(["ops", "vault"]);
  again.close();
});

test("an unusable or repeated signer in the file is left out; the rest is imported", () => {
  dir = new TempStateDir();
  const store = dir.open();
  const id = identity({
    signers: [
      { name: "ops", public_key: keyLine(ops), role: "operational" },
      { name: "ops-again", public_key: keyLine(ops, "again"), role: "recovery" },
      { name: "bad name with spaces", public_key: keyLine(bob), role: "operational" },
      { name: "vault", public_key: keyLine(vault), role: "recovery" },
    ],
  });
  expect(importEnrollmentSigners(store, id, silentLogger)).toEqual({
    kind: "imported",
    signers: 2,
    skipped: 2,
  });
  expect(store.enrolledSigners.list().map((s) => s.name)).toEqual(["ops", "vault"]);
  store.close();
});

test("once imported, the identity file's copy is emptied, so a lost state cannot bring removed keys back", async () => {
  dir = new TempStateDir();
  const store = dir.open();
  const path = join(dir.dir, "hub-identity.json");
  const id = identity();
  await writeIdentity(path, id);
  // Not imported yet: the file is left alone.
  expect(await emptyMovedSigners(path, id, store, silentLogger)).toBe(false);
  expect((await readIdentity(path)).signers).toHaveLength(2);
  importEnrollmentSigners(store, id, silentLogger);
  expect(await emptyMovedSigners(path, id, store, silentLogger)).toBe(true);
  const after = await readIdentity(path);
  expect(after.signers).toEqual([]);
  expect({ ...after, signers: id.signers }).toEqual(id);
  // The store keeps the set; the next start finds it current and nothing to empty.
  expect(importEnrollmentSigners(store, after, silentLogger)).toEqual({ kind: "current" });
  expect(await emptyMovedSigners(path, after, store, silentLogger)).toBe(false);
  expect(store.enrolledSigners.list().map((s) => s.name)).toEqual(["ops", "vault"]);
  // A state lost and started fresh imports the emptied file: no enrolled key comes back.
  const fresh = new TempStateDir();
  try {
    const empty = fresh.open();
    expect(importEnrollmentSigners(empty, after, silentLogger)).toMatchObject({
      kind: "imported",
      signers: 0,
    });
    expect(empty.enrolledSigners.list()).toEqual([]);
  } finally {
    fresh.cleanup();
  }
  store.close();
});
