import { sha256 } from "@noble/hashes/sha2.js";
import { decodeBase64Strict, encodeBase64 } from "./base64.ts";
import { SshReader, SshWireError, SshWriter } from "./ssh-wire.ts";

export const ED25519_KEY_TYPE = "ssh-ed25519";

/** An ssh-ed25519 public key with the identifiers OpenSSH shows for it. */
export interface Ed25519PublicKey {
  /** The 32-byte point. */
  key: Uint8Array;
  /** The SSH wire blob `string "ssh-ed25519" || string key`, what fingerprints hash. */
  blob: Uint8Array;
  /** `SHA256:<base64 without padding>`, the form `ssh-keygen -l` prints. */
  fingerprint: string;
}

/** A public key text or blob that is not a usable ssh-ed25519 key. */
export class SshKeyError extends Error {
  override readonly name = "SshKeyError";
}

export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${encodeBase64(sha256(blob)).replace(/=+$/, "")}`;
}

export function ed25519PublicKeyFromRaw(key: Uint8Array): Ed25519PublicKey {
  if (key.length !== 32) throw new SshKeyError(`ed25519 key must be 32 bytes, got ${key.length}`);
  const blob = new SshWriter().string(ED25519_KEY_TYPE).string(key).bytes();
  return { key: new Uint8Array(key), blob, fingerprint: sshFingerprint(blob) };
}

/** Decodes a public key blob; only ssh-ed25519 is accepted (docs/architecture.md#signed-operations). */
export function ed25519PublicKeyFromBlob(blob: Uint8Array): Ed25519PublicKey {
  try {
    const r = new SshReader(blob);
    const type = r.text("key type");
    if (type !== ED25519_KEY_TYPE) {
      throw new SshKeyError(`key type '${type}' is not supported, only ${ED25519_KEY_TYPE}`);
    }
    const key = r.string("ed25519 key");
    r.end("public key blob");
    return ed25519PublicKeyFromRaw(key);
  } catch (e) {
    if (e instanceof SshWireError) throw new SshKeyError(`bad public key blob: ${e.message}`);
    throw e;
  }
}

export interface ParsedPublicKeyLine extends Ed25519PublicKey {
  comment: string;
}

/** Parses the one-line OpenSSH form `ssh-ed25519 AAAA… [comment]`. */
export function parseSshPublicKey(line: string): ParsedPublicKeyLine {
  const m = /^\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/.exec(line);
  if (!m) throw new SshKeyError("expected 'ssh-ed25519 AAAA… [comment]'");
  const [, type, b64, comment] = m as unknown as [string, string, string, string | undefined];
  if (type !== ED25519_KEY_TYPE) {
    throw new SshKeyError(`key type '${type}' is not supported, only ${ED25519_KEY_TYPE}`);
  }
  const blob = decodeBase64Strict(b64);
  if (!blob) throw new SshKeyError("key data is not valid base64");
  const parsed = ed25519PublicKeyFromBlob(blob);
  return { ...parsed, comment: comment ?? "" };
}

export function formatSshPublicKey(key: Ed25519PublicKey, comment = ""): string {
  const text = `${ED25519_KEY_TYPE} ${encodeBase64(key.blob)}`;
  return comment ? `${text} ${comment}` : text;
}
