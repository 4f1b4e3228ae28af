import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CanonicalJsonError, canonicalJson } from "../../src/util/canonical-json.ts";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}

/**
 * Keys sorted by UTF-16 code units with an explicit comparator, primitives written by
 * JSON.stringify. Written out by hand: a rebuilt object would put integer-like keys ("0")
 * first whatever order they were inserted in.
 */
function referenceJcs(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(referenceJcs).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = a.charCodeAt(i) - b.charCodeAt(i);
      if (d !== 0) return d;
    }
    return a.length - b.length;
  });
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceJcs(record[k])}`).join(",")}}`;
}

describe("canonicalJson (RFC 8785, JSON Canonicalization Scheme)", () => {
  test("sorts keys at every level and drops undefined properties", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  test("orders keys by UTF-16 code units, not by code points (RFC 8785 section 3.2.3)", () => {
    // U+1F600 is the pair D83D DE00, which sorts before U+FB33 in UTF-16 though its code
    // point is larger; U+0080 sorts after "1" and before U+00F6.
    const value = {
      "\ufb33": "hebrew",
      "\u{1f600}": "emoji",
      "\u20ac": "euro",
      "\u00f6": "o-umlaut",
      "\u0080": "control",
      "1": "one",
      "\r": "cr",
    };
    expect(canonicalJson(value)).toBe(
      '{"\\r":"cr","1":"one","\u0080":"control","\u00f6":"o-umlaut","\u20ac":"euro","\u{1f600}":"emoji","\ufb33":"hebrew"}',
    );
  });

  test("orders integer-like keys as strings, not first as JavaScript objects do", () => {
    expect(canonicalJson({ a: 4, "10": 1, "9": 2, "": 3 })).toBe('{"":3,"10":1,"9":2,"a":4}');
  });

  test("writes numbers as ECMAScript does (RFC 8785 section 3.2.2.3)", () => {
    const cases: Array<[number, string]> = [
      [0, "0"],
      [-0, "0"],
      [4.5, "4.5"],
      [0.002, "0.002"],
      [1e-7, "1e-7"],
      [0.000001, "0.000001"],
      [1e21, "1e+21"],
      [1e20, "100000000000000000000"],
      [Number("333333333.33333329"), "333333333.3333333"],
      [-1.5e-300, "-1.5e-300"],
      [Number.MAX_SAFE_INTEGER + 1, "9007199254740992"],
      [Number.MIN_VALUE, "5e-324"],
    ];
    for (const [n, text] of cases) expect(canonicalJson([n])).toBe(`[${text}]`);
  });

  test("escapes strings as RFC 8785 section 3.2.2.2 says, nothing more", () => {
    expect(canonicalJson("\u0000\u0007\u001f")).toBe('"\\u0000\\u0007\\u001f"');
    expect(canonicalJson("\b\t\n\f\r")).toBe('"\\b\\t\\n\\f\\r"');
    expect(canonicalJson('quote " backslash \\')).toBe('"quote \\" backslash \\\\"');
    // Outside the controls, characters go as they are: DEL, '/', U+2028, non-ASCII, pairs.
    expect(canonicalJson("\u007f/\u2028é€\u{1f600}")).toBe('"\u007f/\u2028é€\u{1f600}"');
  });

  test("has no whitespace between tokens", () => {
    expect(canonicalJson({ a: [1, { b: "x y" }], c: true, d: false, e: null })).toBe(
      '{"a":[1,{"b":"x y"}],"c":true,"d":false,"e":null}',
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
      expect(thrown(() => canonicalJson(value))).toBeInstanceOf(CanonicalJsonError);
    }
  });

  test("refuses a lone surrogate in a string or a key: input must be I-JSON (RFC 8785 section 3.1)", () => {
    for (const value of ["\ud800", "a\udc00", "\ude00\ud83d", { "\ud83d": 1 }, ["ok", "x\udfff"]]) {
      expect(thrown(() => canonicalJson(value))).toBeInstanceOf(CanonicalJsonError);
    }
    // A well-formed pair is text, not an error.
    expect(canonicalJson({ "\u{1f600}": "\u{1f600}" })).toBe('{"\u{1f600}":"\u{1f600}"}');
  });

  test("equals the reference (sorted by code units, written by JSON.stringify) for any JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "grapheme" }), (value) => {
        expect(canonicalJson(value)).toBe(referenceJcs(value));
      }),
      { numRuns: 1000 },
    );
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
