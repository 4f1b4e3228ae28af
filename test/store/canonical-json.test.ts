import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { canonicalJson } from "../../src/store/canonical-json.ts";
import { StoreError } from "../../src/store/errors.ts";
import { thrown } from "./support.ts";

describe("canonicalJson", () => {
  test("sorts keys at every level and drops undefined properties", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  test("refuses what JSON cannot carry faithfully", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1n,
      () => 1,
      new Date(0),
      [undefined],
      undefined,
      cycle,
    ]) {
      const err = thrown(() => canonicalJson(value));
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).kind).toBe("invalid_argument");
    }
  });

  test("is a fixed point of parse, and equal values give equal text whatever the key order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 200 },
    );
  });
});
