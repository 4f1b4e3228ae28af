import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { DesiredLookups } from "../../src/daemon/desired-lookups.ts";
import { silentLogger } from "../../src/log/types.ts";
import type { Store } from "../../src/store/store.ts";
import { TempStateDir } from "../store/support.ts";

let tmp: TempStateDir;
let store: Store;
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

const doc = (maxCores: number) =>
  JSON.stringify({ version: 1, guests: { "101": { max_cores: maxCores } } });

describe("desired lookups on the local API's request path", () => {
  test("an unchanged stamp answers from the parsed copy without reading the document", () => {
    store.desired.put({ document: doc(4), source: "hub" });
    let reads = 0;
    const counting = {
      get: () => {
        reads++;
        return store.desired.get();
      },
      stamp: () => store.desired.stamp(),
    };
    const lookups = new DesiredLookups(counting, silentLogger);
    expect(lookups.quotaFor(101)).toEqual({ maxCores: 4 });
    for (let i = 0; i < 100; i++) lookups.quotaFor(101);
    lookups.backupStorageFor(101);
    expect(reads).toBe(1);
  });

  test("every put is seen at the next lookup, the same millisecond and the same length too", () => {
    const lookups = new DesiredLookups(store.desired, silentLogger);
    expect(lookups.quotaFor(101)).toBeUndefined();
    store.desired.put({ document: doc(4), source: "hub" });
    expect(lookups.quotaFor(101)).toEqual({ maxCores: 4 });
    // Same clock reading, same document length: only the stamp tells them apart.
    store.desired.put({ document: doc(8), source: "hub" });
    expect(lookups.quotaFor(101)).toEqual({ maxCores: 8 });
  });

  test("a cache without a stamp is read on every lookup, as before", () => {
    store.desired.put({ document: doc(4), source: "hub" });
    let reads = 0;
    const lookups = new DesiredLookups(
      {
        get: () => {
          reads++;
          return store.desired.get();
        },
      },
      silentLogger,
    );
    lookups.quotaFor(101);
    lookups.quotaFor(101);
    expect(reads).toBe(2);
  });
});
