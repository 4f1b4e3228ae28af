import { describe, expect, test } from "bun:test";
import { OP_NAMES } from "../../src/authz/operations.ts";
import { roleAllows } from "../../src/authz/roles.ts";
import { parseSigners, SignersConfigError } from "../../src/authz/signers.ts";
import { parseSshPublicKey, SshKeyError } from "../../src/authz/ssh-public-key.ts";
import { canonicalJson } from "../../src/util/canonical-json.ts";
import { fixture } from "./support.ts";

const alice = fixture("operator_ed25519.pub").trim();
const rescue = fixture("locked_ed25519.pub").trim();

function problemOf(input: unknown): string {
  try {
    parseSigners(input);
  } catch (e) {
    if (e instanceof SignersConfigError) return e.message;
    throw e;
  }
  throw new Error("accepted");
}

describe("signers config", () => {
  test("parses names, roles, expiry and key ids", () => {
    const [a, r] = parseSigners([
      { name: "alice", key: alice, role: "operational", expires: "2027-06-01T00:00:00Z" },
      { name: "rescue", key: rescue, role: "recovery" },
    ]);
    expect(a?.name).toBe("alice");
    expect(a?.expiresAt).toBe(Date.UTC(2027, 5, 1));
    expect(a?.keyId).toBe(parseSshPublicKey(alice).fingerprint);
    expect(r?.role).toBe("recovery");
    expect(r?.expiresAt).toBeUndefined();
    expect(parseSigners([])).toEqual([]);
  });

  test.each([
    ["not a list", { alice }, "signers:"],
    ["unknown field", [{ name: "a", key: alice, role: "operational", admin: true }], "signers[0]"],
    ["bad role", [{ name: "a", key: alice, role: "root" }], "signers[0].role"],
    [
      "rsa key",
      [{ name: "a", key: "ssh-rsa AAAAB3NzaC1yc2E= x", role: "operational" }],
      "signers[0].key: key type 'ssh-rsa'",
    ],
    [
      "garbled key",
      [{ name: "a", key: "ssh-ed25519 AAAA!!", role: "operational" }],
      "signers[0].key",
    ],
    [
      "bad date",
      [{ name: "a", key: alice, role: "operational", expires: "June 2027" }],
      "signers[0].expires",
    ],
    ["empty name", [{ name: "", key: alice, role: "operational" }], "signers[0].name"],
    [
      "duplicate name",
      [
        { name: "a", key: alice, role: "operational" },
        { name: "a", key: rescue, role: "recovery" },
      ],
      "signers[1].name: duplicate signer name",
    ],
    [
      "one key twice",
      [
        { name: "a", key: alice, role: "operational" },
        { name: "b", key: alice, role: "recovery" },
      ],
      "signers[1].key: key SHA256:",
    ],
  ])("%s is refused with its path", (_, input, text) => {
    expect(problemOf(input)).toContain(text);
  });

  test("a key line whose type disagrees with its blob is refused", () => {
    const blobIsEd = alice.split(" ")[1];
    expect(() => parseSshPublicKey(`ssh-rsa ${blobIsEd}`)).toThrow(SshKeyError);
    const rsaBlob = btoa("\0\0\0\x07ssh-rsa\0\0\0\x01\x03");
    expect(() => parseSshPublicKey(`ssh-ed25519 ${rsaBlob}`)).toThrow("ssh-rsa");
  });
});

describe("roles", () => {
  test("recovery signs rotation only; operational signs everything", () => {
    for (const op of OP_NAMES) {
      expect(roleAllows("operational", op)).toBe(true);
      expect(roleAllows("recovery", op)).toBe(op === "signers.rotate");
    }
  });
});

describe("canonical JSON", () => {
  test("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: [{ z: 1, a: null }], a: "x", u: undefined })).toBe(
      '{"a":"x","b":[{"a":null,"z":1}]}',
    );
  });

  test("refuses values JSON cannot carry", () => {
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1n,
      () => 1,
      new Date(0),
      [undefined],
    ]) {
      expect(() => canonicalJson({ v: bad })).toThrow();
    }
  });
});
