import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { Signer } from "../../src/authz/signers.ts";
import { ed25519PublicKeyFromRaw, parseSshPublicKey } from "../../src/authz/ssh-public-key.ts";
import type { Ed25519SeedKey } from "../../src/authz/sshsig.ts";

export const FIXTURES = join(import.meta.dir, "fixtures");

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

/**
 * The seed inside fixtures/operator_ed25519 (made by ssh-keygen, unencrypted), written out so
 * that tests sign with that key in-process without a key-file parser; test/authz/sshsig.test.ts
 * proves it is that key (same public key, byte-identical signatures to ssh-keygen's).
 */
const OPERATOR_SEED_HEX = "9edf0ed4cfaaf4252845703cd41928e729ba7623b3f492007e8f6f088a6f3011";

/** The fixture operator key, in-process. */
export function operatorKey(): Ed25519SeedKey {
  const seed = new Uint8Array(Buffer.from(OPERATOR_SEED_HEX, "hex"));
  const { comment: _c, ...publicKey } = parseSshPublicKey(fixture("operator_ed25519.pub"));
  return { seed, publicKey, comment: "operator@example" };
}

/** A private key fixture copied to `dir` with mode 0600 (ssh-keygen refuses a 0644 key file). */
export function privateKeyCopy(name: string, dir: string): string {
  const file = join(dir, name);
  writeFileSync(file, fixture(name), { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** A key from a fixed seed, for tests that need many distinct signers. */
export async function keyFromSeed(byte: number, comment = `seed-${byte}`) {
  const seed = new Uint8Array(32).fill(byte);
  const pub = await createEd25519().publicKey(seed);
  return { seed, publicKey: ed25519PublicKeyFromRaw(pub), comment } satisfies Ed25519SeedKey;
}

export function signerFor(
  key: Ed25519SeedKey,
  name: string,
  role: Signer["role"] = "operational",
  expiresAt?: number,
): Signer {
  const s: Signer = { name, role, publicKey: key.publicKey, keyId: key.publicKey.fingerprint };
  if (expiresAt !== undefined) s.expiresAt = expiresAt;
  return s;
}

/**
 * The real ssh-keygen, or null when absent. CI installs openssh-client (.ci/run), so there a
 * missing binary is an error instead of a silent skip.
 */
export function sshKeygen(): string | null {
  const found = spawnSync("sh", ["-c", "command -v ssh-keygen"], { encoding: "utf8" });
  const path = found.status === 0 ? found.stdout.trim() : "";
  if (path) return path;
  if (process.env.CI) {
    throw new Error("ssh-keygen is required in CI for the OpenSSH tests (openssh-client)");
  }
  console.warn("ssh-keygen not found: skipping the tests that run it (install openssh-client)");
  return null;
}
