import { describe, expect, test } from "bun:test";
import { bcryptPbkdf } from "../../src/authz/bcrypt-pbkdf.ts";
import { BLOWFISH_INITIAL_P, BLOWFISH_INITIAL_S } from "../../src/authz/blowfish-constants.ts";
import { piWords } from "./pi-hex.ts";

describe("Blowfish initial state", () => {
  test("is the fractional hex expansion of pi, word for word", () => {
    const words = piWords(18 + 1024);
    expect([...BLOWFISH_INITIAL_P]).toEqual(words.slice(0, 18));
    expect([...BLOWFISH_INITIAL_S]).toEqual(words.slice(18));
    expect(BLOWFISH_INITIAL_P[0]).toBe(0x243f6a88);
  });
});

describe("bcrypt_pbkdf", () => {
  test("is deterministic and every input changes the output", () => {
    const pass = new TextEncoder().encode("password");
    const salt = new TextEncoder().encode("salt");
    const a = bcryptPbkdf(pass, salt, 48, 2);
    expect(a).toHaveLength(48);
    expect(bcryptPbkdf(pass, salt, 48, 2)).toEqual(a);
    expect(bcryptPbkdf(pass, salt, 48, 3)).not.toEqual(a);
    expect(bcryptPbkdf(new TextEncoder().encode("passwore"), salt, 48, 2)).not.toEqual(a);
    expect(bcryptPbkdf(pass, new TextEncoder().encode("salu"), 48, 2)).not.toEqual(a);
  });

  test("a shorter key is not a prefix of a longer one (output bytes are interleaved)", () => {
    const pass = new TextEncoder().encode("pw");
    const salt = new Uint8Array(16).fill(7);
    const long = bcryptPbkdf(pass, salt, 64, 1);
    const short = bcryptPbkdf(pass, salt, 32, 1);
    // keylen 64 uses stride 2: block 1 fills even positions; keylen 32 uses stride 1.
    expect(short).toEqual(long.filter((_, i) => i % 2 === 0));
  });

  test("refuses degenerate parameters", () => {
    const one = new Uint8Array([1]);
    expect(() => bcryptPbkdf(one, one, 32, 0)).toThrow("rounds");
    expect(() => bcryptPbkdf(new Uint8Array(0), one, 32, 1)).toThrow("passphrase");
    expect(() => bcryptPbkdf(one, new Uint8Array(0), 32, 1)).toThrow("salt");
    expect(() => bcryptPbkdf(one, one, 0, 1)).toThrow("key length");
    expect(() => bcryptPbkdf(one, one, 1025, 1)).toThrow("key length");
  });
});
