import { describe, expect, test } from "bun:test";
import {
  isEncryptedOpenSshPrivateKey,
  PrivateKeyError,
  parseOpenSshPrivateKey,
} from "../../src/authz/openssh-private-key.ts";
import { formatSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import { fixture } from "./support.ts";

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PrivateKeyError) return e.reason;
    throw e;
  }
  throw new Error("expected a PrivateKeyError");
}

describe("OpenSSH private keys", () => {
  test("reads an unencrypted ssh-keygen key and its comment", () => {
    const key = parseOpenSshPrivateKey(fixture("operator_ed25519"));
    expect(formatSshPublicKey(key.publicKey, key.comment)).toBe(
      fixture("operator_ed25519.pub").trim(),
    );
    expect(key.seed).toHaveLength(32);
    expect(isEncryptedOpenSshPrivateKey(fixture("operator_ed25519"))).toBe(false);
  });

  test("decrypts an aes256-ctr + bcrypt key made by ssh-keygen with its passphrase", () => {
    const text = fixture("locked_ed25519");
    expect(isEncryptedOpenSshPrivateKey(text)).toBe(true);
    const key = parseOpenSshPrivateKey(text, "fixture passphrase");
    expect(formatSshPublicKey(key.publicKey, key.comment)).toBe(
      fixture("locked_ed25519.pub").trim(),
    );
  });

  test("a wrong or missing passphrase is named as such", () => {
    const text = fixture("locked_ed25519");
    expect(reasonOf(() => parseOpenSshPrivateKey(text, "fixture passphrasE"))).toBe(
      "wrong_passphrase",
    );
    expect(reasonOf(() => parseOpenSshPrivateKey(text))).toBe("passphrase_required");
    expect(reasonOf(() => parseOpenSshPrivateKey(text, ""))).toBe("passphrase_required");
  });

  test("other key types are unsupported, not misread", () => {
    expect(reasonOf(() => parseOpenSshPrivateKey(fixture("ecdsa_key")))).toBe("unsupported");
  });

  test.each([
    ["empty", ""],
    ["a public key", "ssh-ed25519 AAAA"],
    ["a PEM key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ["bad base64", "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----"],
  ])("%s is malformed", (_, text) => {
    expect(reasonOf(() => parseOpenSshPrivateKey(text))).toBe("malformed");
  });

  test("a truncated key is malformed and the message carries no key material", () => {
    const text = fixture("operator_ed25519");
    const lines = text.trim().split("\n");
    const body = lines.slice(1, -1).join("").slice(0, 120);
    const cut = [lines[0], body.slice(0, 70), body.slice(70), lines.at(-1)].join("\n");
    try {
      parseOpenSshPrivateKey(cut);
      throw new Error("accepted a truncated key");
    } catch (e) {
      expect(e).toBeInstanceOf(PrivateKeyError);
      expect((e as Error).message).not.toContain(body.slice(40, 60));
    }
  });
});
