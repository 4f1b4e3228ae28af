import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { DEFAULT_BOOTSTRAP_TTL_MS } from "../../src/store/bootstrap-codes.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

describe("bootstrap codes", () => {
  test("a code is at least 128 random bits, printable, and only its SHA-256 is stored", () => {
    const uid = store.guestIdentities.ensure(140).uid;
    const { code, record } = store.bootstrapCodes.issue({ vmid: 140, hubCredential: "c2VhbGVk" });
    expect(Buffer.from(code, "base64url").length * 8).toBeGreaterThanOrEqual(128);
    expect(code).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(record).toMatchObject({ vmid: 140, guestUid: uid, step: "issued" });
    const row = store.db.query("SELECT * FROM bootstrap_codes").get() as Record<string, unknown>;
    expect(Buffer.from(row.code_hash as Uint8Array)).toEqual(
      createHash("sha256").update(code).digest(),
    );
    expect(JSON.stringify(store.db.query("SELECT * FROM bootstrap_codes").all())).not.toContain(
      code,
    );
    // Nowhere else in the database either, audit included.
    const dump = new Database(tmp.dbPath, { readonly: true });
    const tables = dump.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    for (const t of tables) {
      expect(JSON.stringify(dump.query(`SELECT * FROM "${t.name}"`).all())).not.toContain(code);
    }
    dump.close();
  });

  test("a code redeems once; the second try gets nothing", () => {
    store.guestIdentities.ensure(140);
    const { code } = store.bootstrapCodes.issue({ vmid: 140 });
    const first = store.bootstrapCodes.redeem(code);
    expect(first).toMatchObject({ vmid: 140, step: "redeemed" });
    expect(store.bootstrapCodes.redeem(code)).toBeNull();
  });

  test("two redemptions racing: exactly one wins", async () => {
    store.guestIdentities.ensure(140);
    const { code } = store.bootstrapCodes.issue({ vmid: 140 });
    const other = tmp.open({ exclusive: false });
    const results = await Promise.all([
      Promise.resolve().then(() => store.bootstrapCodes.redeem(code)),
      Promise.resolve().then(() => other.bootstrapCodes.redeem(code)),
    ]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    other.close();
  });

  test("an expired code redeems nothing and shows as expired", () => {
    store.guestIdentities.ensure(140);
    const { code, record } = store.bootstrapCodes.issue({ vmid: 140 });
    expect(record.expiresAt - record.createdAt).toBe(DEFAULT_BOOTSTRAP_TTL_MS);
    tmp.clock.advance(DEFAULT_BOOTSTRAP_TTL_MS);
    expect(store.bootstrapCodes.redeem(code)).toBeNull();
    expect(store.bootstrapCodes.byId(record.id)?.step).toBe("expired");
  });

  test("a code dies with its guest: a new guest at the vmid cannot redeem the old one's code", () => {
    store.guestIdentities.ensure(140);
    const { code, record } = store.bootstrapCodes.issue({ vmid: 140 });
    store.guestIdentities.renew(140, null);
    expect(store.bootstrapCodes.redeem(code)).toBeNull();
    expect(store.bootstrapCodes.byId(record.id)?.step).toBe("revoked");
  });

  test("reissuing revokes the earlier code; malformed and unknown codes redeem nothing", () => {
    store.guestIdentities.ensure(140);
    const a = store.bootstrapCodes.issue({ vmid: 140 });
    const b = store.bootstrapCodes.issue({ vmid: 140 });
    expect(store.bootstrapCodes.redeem(a.code)).toBeNull();
    expect(store.bootstrapCodes.redeem("x")).toBeNull();
    expect(store.bootstrapCodes.redeem("A".repeat(32))).toBeNull();
    expect(store.bootstrapCodes.redeem(b.code)?.id).toBe(b.record.id);
  });

  test("no code for a vmid without an identity", () => {
    expect(String(thrown(() => store.bootstrapCodes.issue({ vmid: 150 })))).toContain(
      "no identity",
    );
  });

  test("unfinished lists each vmid's newest code until env is removed", () => {
    store.guestIdentities.ensure(140);
    store.guestIdentities.ensure(141);
    const a = store.bootstrapCodes.issue({ vmid: 140 });
    const b = store.bootstrapCodes.issue({ vmid: 141 });
    store.bootstrapCodes.mark(a.record.id, "env_set");
    store.bootstrapCodes.mark(a.record.id, "started");
    expect(store.bootstrapCodes.unfinished().map((r) => [r.vmid, r.step])).toEqual([
      [140, "started"],
      [141, "issued"],
    ]);
    store.bootstrapCodes.redeem(b.code);
    store.bootstrapCodes.mark(b.record.id, "env_removed");
    expect(store.bootstrapCodes.unfinished().map((r) => r.vmid)).toEqual([140]);
  });
});
