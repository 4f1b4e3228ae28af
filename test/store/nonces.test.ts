import { afterEach, beforeEach, describe, expect, test } from "bun:test";
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

describe("nonces", () => {
  test("first use wins, every replay loses, across a restart too", () => {
    const exp = tmp.clock.now() + 600_000;
    expect(store.nonces.isConsumed("n1")).toBe(false);
    expect(store.nonces.consume("n1", exp)).toBe(true);
    expect(store.nonces.consume("n1", exp)).toBe(false);
    expect(store.nonces.isConsumed("n1")).toBe(true);
    store.close();
    const again = tmp.open();
    expect(again.nonces.consume("n1", exp)).toBe(false);
    expect(again.nonces.consume("n2", exp)).toBe(true);
  });

  test("prune forgets only nonces expired longer ago than the grace", () => {
    const now = tmp.clock.now();
    store.nonces.consume("old", now - 10_000);
    store.nonces.consume("recent", now - 1_000);
    store.nonces.consume("live", now + 1_000);
    expect(store.nonces.prune(5_000)).toBe(1);
    expect(store.nonces.isConsumed("old")).toBe(false);
    expect(store.nonces.isConsumed("recent")).toBe(true);
    expect(store.nonces.prune()).toBe(1);
    expect(store.nonces.isConsumed("live")).toBe(true);
  });

  test("bad nonces are refused", () => {
    for (const [nonce, exp] of [
      ["", 1],
      ["x".repeat(513), 1],
      ["ok", -1],
      ["ok", 1.5],
    ] as const) {
      expect((thrown(() => store.nonces.consume(nonce, exp)) as StoreError).kind).toBe(
        "invalid_argument",
      );
    }
    expect(store.nonces.isConsumed("ok")).toBe(false);
  });
});
