import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { Ed25519PrivateKey } from "../../src/authz/openssh-private-key.ts";
import { parseOpenSshPrivateKey } from "../../src/authz/openssh-private-key.ts";
import type { Signer } from "../../src/authz/signers.ts";
import { ed25519PublicKeyFromRaw } from "../../src/authz/ssh-public-key.ts";

export const FIXTURES = join(import.meta.dir, "fixtures");

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}

/** The unencrypted fixture key made by ssh-keygen. */
export function operatorKey(): Ed25519PrivateKey {
  return parseOpenSshPrivateKey(fixture("operator_ed25519"));
}

/** A key from a fixed seed, for tests that need many distinct signers. */
export async function keyFromSeed(byte: number, comment = `seed-${byte}`) {
  const seed = new Uint8Array(32).fill(byte);
  const pub = await createEd25519().publicKey(seed);
  return { seed, publicKey: ed25519PublicKeyFromRaw(pub), comment } satisfies Ed25519PrivateKey;
}

export function signerFor(
  key: Ed25519PrivateKey,
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
    throw new Error("ssh-keygen is required in CI for the OpenSSH interop tests (openssh-client)");
  }
  console.warn("ssh-keygen not found: skipping OpenSSH interop tests (install openssh-client)");
  return null;
}
