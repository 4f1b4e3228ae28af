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

describe("desired-state cache", () => {
  test("nothing persisted is undefined — not an empty desired state", () => {
    expect(store.desired.get()).toBeUndefined();
    store.desired.put({ document: '{"version":1,"guests":{}}', source: "hub", etag: '"v1"' });
    expect(store.desired.get()).toEqual({
      document: '{"version":1,"guests":{}}',
      source: "hub",
      etag: '"v1"',
      receivedAt: tmp.clock.now(),
    });
  });

  test("the latest document replaces the previous one and survives a restart byte for byte", () => {
    store.desired.put({ document: '{"version":1,"guests":{}}', source: "hub", etag: '"v1"' });
    tmp.clock.advance(30_000);
    const doc = '{ "version": 1, "guests": { "101": { "run": "running", "cores": 2 } } }';
    store.desired.put({ document: doc, source: "file:/etc/felhom-agent/desired.json" });
    store.close();
    expect(tmp.open().desired.get()).toEqual({
      document: doc,
      source: "file:/etc/felhom-agent/desired.json",
      etag: null,
      receivedAt: tmp.clock.now(),
    });
  });

  test("text that is not a JSON object is refused and the cache is unchanged", () => {
    store.desired.put({ document: '{"version":1,"guests":{}}', source: "hub" });
    const before = store.desired.get();
    for (const document of ["", "{", "[]", "null", "42"]) {
      expect(
        (thrown(() => store.desired.put({ document, source: "hub" })) as StoreError).kind,
      ).toBe("invalid_argument");
    }
    expect(
      (thrown(() => store.desired.put({ document: "{}", source: "" })) as StoreError).kind,
    ).toBe("invalid_argument");
    expect(store.desired.get()).toEqual(before);
  });
});
