import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { StoreError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir, thrown } from "./support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

describe("guest tokens", () => {
  test("a minted token is 256 random bits, URL-safe, and only its SHA-256 is stored", () => {
    const minted = store.guestTokens.mint(101);
    expect(minted.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(minted.token, "base64url")).toHaveLength(32);
    expect(minted.id).toMatch(/^gt-[0-9a-f]{16}$/);
    const row = store.db.query("SELECT * FROM guest_tokens").get() as Record<string, unknown>;
    expect(Buffer.from(row.token_hash as Uint8Array)).toEqual(
      createHash("sha256").update(minted.token).digest(),
    );
    const everything = JSON.stringify(store.db.query("SELECT * FROM guest_tokens").all());
    expect(everything).not.toContain(minted.token);
    expect(store.guestTokens.mint(101).token).not.toBe(minted.token);
  });

  test("resolve maps a token to its own guest and nothing else", () => {
    const a = store.guestTokens.mint(101);
    const b = store.guestTokens.mint(102);
    expect(store.guestTokens.resolve(a.token)).toEqual({
      id: a.id,
      vmid: 101,
      guestUid: a.guestUid,
    });
    expect(store.guestTokens.resolve(b.token)).toEqual({
      id: b.id,
      vmid: 102,
      guestUid: b.guestUid,
    });
    expect(a.guestUid).not.toBe(b.guestUid);
    const flipped = (a.token[0] === "A" ? "B" : "A") + a.token.slice(1);
    for (const bad of [
      flipped,
      "",
      `${a.token}x`,
      a.token.slice(1),
      `Bearer ${a.token}`,
      " ".repeat(43),
    ]) {
      expect(store.guestTokens.resolve(bad)).toBeNull();
    }
  });

  test("revoke by id or by guest; revoked tokens stop resolving", () => {
    const a1 = store.guestTokens.mint(101);
    const a2 = store.guestTokens.mint(101);
    const b = store.guestTokens.mint(102);
    expect(store.guestTokens.revoke(a1.id)).toBe(1);
    expect(store.guestTokens.revoke(a1.id)).toBe(0);
    expect(store.guestTokens.resolve(a1.token)).toBeNull();
    expect(store.guestTokens.resolve(a2.token)).not.toBeNull();
    expect(store.guestTokens.revoke(101)).toBe(1);
    expect(store.guestTokens.resolve(a2.token)).toBeNull();
    expect(store.guestTokens.resolve(b.token)).toMatchObject({ id: b.id, vmid: 102 });
    expect(store.guestTokens.revoke("gt-unknown")).toBe(0);
  });

  test("list shows ids, guests and times, never a token; last use is tracked coarsely", () => {
    const a = store.guestTokens.mint(101);
    const t0 = tmp.clock.now();
    tmp.clock.advance(1000);
    store.guestTokens.resolve(a.token);
    tmp.clock.advance(1000);
    store.guestTokens.resolve(a.token);
    expect(store.guestTokens.list()).toEqual([
      {
        id: a.id,
        vmid: 101,
        guestUid: a.guestUid,
        createdAt: t0,
        lastUsedAt: t0 + 1000,
        revokedAt: null,
      },
    ]);
    tmp.clock.advance(60_000);
    store.guestTokens.resolve(a.token);
    expect(store.guestTokens.list()[0]?.lastUsedAt).toBe(tmp.clock.now());
    store.guestTokens.revoke(a.id);
    const listed = store.guestTokens.list();
    expect(listed[0]?.revokedAt).toBe(tmp.clock.now());
    expect(JSON.stringify(listed)).not.toContain(a.token);
  });

  test("tokens belong to the guest identity: retired with it, never inherited by the vmid's next guest", () => {
    const old = store.guestTokens.mint(101);
    const sibling = store.guestTokens.mint(101);
    expect(sibling.guestUid).toBe(old.guestUid);
    expect(store.guestIdentities.current(101)?.uid).toBe(old.guestUid);
    const journalId = store.journal.recordIntent({ op: "guest.destroy", vmid: 101, origin: "job" });
    expect(store.guestIdentities.retire(101, journalId)).toEqual({
      uid: old.guestUid,
      tokensRevoked: 2,
    });
    expect(store.guestTokens.resolve(old.token)).toBeNull();
    expect(store.guestIdentities.byUid(old.guestUid)).toMatchObject({ retiredBy: journalId });
    // A new guest at the same vmid: a new identity, and the old tokens stay dead.
    const fresh = store.guestTokens.mint(101);
    expect(fresh.guestUid).not.toBe(old.guestUid);
    expect(store.guestTokens.resolve(fresh.token)).toMatchObject({
      vmid: 101,
      guestUid: fresh.guestUid,
    });
    expect(store.guestTokens.resolve(old.token)).toBeNull();
    expect(store.guestTokens.resolve(sibling.token)).toBeNull();
  });

  test("a token whose identity was retired without revoking it still resolves to nothing", () => {
    const t = store.guestTokens.mint(101);
    store.db.run("UPDATE guest_identities SET retired_at = 1");
    expect(store.guestTokens.resolve(t.token)).toBeNull();
    store.db.run("UPDATE guest_tokens SET guest_uid = NULL");
    expect(store.guestTokens.resolve(t.token)).toBeNull();
  });

  test("renew: a restore over the guest retires its identity and makes a new one", () => {
    const t = store.guestTokens.mint(101);
    const { identity: next, retired } = store.guestIdentities.renew(101, null);
    expect(next.uid).not.toBe(t.guestUid);
    expect(retired).toEqual({ uid: t.guestUid, tokensRevoked: 1 });
    expect(store.guestIdentities.current(101)?.uid).toBe(next.uid);
    expect(store.guestTokens.resolve(t.token)).toBeNull();
    expect(store.guestIdentities.retire(102, null)).toBeUndefined();
  });

  test("bad vmids are refused", () => {
    for (const vmid of [0, 99, 1_000_000_000, 101.5, Number.NaN]) {
      expect((thrown(() => store.guestTokens.mint(vmid)) as StoreError).kind).toBe(
        "invalid_argument",
      );
    }
    expect(store.guestTokens.list()).toEqual([]);
  });
});
