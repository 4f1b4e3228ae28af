import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { decodeBase64Strict, encodeBase64 } from "./base64.ts";
import type { Ed25519 } from "./ed25519.ts";
import {
  ED25519_KEY_TYPE,
  type Ed25519PublicKey,
  ed25519PublicKeyFromBlob,
  SshKeyError,
} from "./ssh-public-key.ts";
import { SshReader, SshWireError, SshWriter } from "./ssh-wire.ts";

/**
 * OpenSSH signatures (PROTOCOL.sshsig), the format of `ssh-keygen -Y sign`:
 *
 *   blob   = "SSHSIG" uint32(1) string(publickey) string(namespace) string(reserved)
 *            string(hash_algorithm) string(signature)
 *   signed = "SSHSIG" string(namespace) string(reserved) string(hash_algorithm)
 *            string(H(message))
 *
 * armored as base64 wrapped at 70 columns between BEGIN/END SSH SIGNATURE lines.
 */

/** The namespace every operator signature must carry (docs/architecture.md#signed-operations). */
export const OP_NAMESPACE = "felhom.op/v1";

export type SshsigHash = "sha256" | "sha512";

/**
 * An ed25519 key as its raw RFC 8032 seed and public key: keys made in-process (the demo's
 * operator, tests), never read from a file; operators sign with ssh-keygen (`op sign`).
 */
export interface Ed25519SeedKey {
  /** The 32-byte secret seed. Keep it out of logs and errors. */
  seed: Uint8Array;
  publicKey: Ed25519PublicKey;
  comment: string;
}

export interface Sshsig {
  publicKey: Ed25519PublicKey;
  namespace: string;
  hashAlgorithm: SshsigHash;
  /** The raw 64-byte ed25519 signature. */
  signature: Uint8Array;
}

/** The text is not an SSHSIG this verifier accepts. */
export class SshsigFormatError extends Error {
  override readonly name = "SshsigFormatError";
}

const MAGIC = new TextEncoder().encode("SSHSIG");
const VERSION = 1;
const BEGIN = "-----BEGIN SSH SIGNATURE-----";
const END = "-----END SSH SIGNATURE-----";
/** ssh-keygen's SSHSIG_LINE_LEN: byte-compatible output wraps where it does. */
const LINE = 70;

const HASHES: Record<SshsigHash, (m: Uint8Array) => Uint8Array> = { sha256, sha512 };

export function parseArmoredSshsig(text: string): Sshsig {
  const lines = text.trim().split(/\r?\n/);
  if (lines.length < 3 || lines[0] !== BEGIN || lines[lines.length - 1] !== END) {
    throw new SshsigFormatError(`expected an armored signature between '${BEGIN}' and '${END}'`);
  }
  const blob = decodeBase64Strict(lines.slice(1, -1).join(""));
  if (!blob) throw new SshsigFormatError("signature body is not valid base64");
  return parseSshsigBlob(blob);
}

export function parseSshsigBlob(blob: Uint8Array): Sshsig {
  try {
    const r = new SshReader(blob);
    const magic = r.raw(MAGIC.length, "magic");
    if (!magic.every((b, i) => b === MAGIC[i])) throw new SshsigFormatError("not an SSHSIG blob");
    const version = r.uint32("version");
    if (version !== VERSION) throw new SshsigFormatError(`SSHSIG version ${version} unsupported`);
    const publicKey = ed25519PublicKeyFromBlob(r.string("public key"));
    const namespace = r.text("namespace");
    // PROTOCOL.sshsig lets readers ignore `reserved`, and OpenSSH verifies as if it were
    // empty; refusing non-empty values instead keeps one byte form per valid signature.
    if (r.string("reserved").length !== 0) throw new SshsigFormatError("reserved field not empty");
    const hashAlgorithm = r.text("hash algorithm");
    if (hashAlgorithm !== "sha256" && hashAlgorithm !== "sha512") {
      throw new SshsigFormatError(`hash algorithm '${hashAlgorithm}' is not sha256 or sha512`);
    }
    const sig = new SshReader(r.string("signature"));
    r.end("SSHSIG blob");
    const sigType = sig.text("signature type");
    if (sigType !== ED25519_KEY_TYPE) {
      throw new SshsigFormatError(`signature type '${sigType}' is not ${ED25519_KEY_TYPE}`);
    }
    const signature = sig.string("ed25519 signature");
    sig.end("signature");
    if (signature.length !== 64) {
      throw new SshsigFormatError(`ed25519 signature is ${signature.length} bytes, not 64`);
    }
    return { publicKey, namespace, hashAlgorithm, signature: new Uint8Array(signature) };
  } catch (e) {
    if (e instanceof SshWireError || e instanceof SshKeyError) {
      throw new SshsigFormatError(`malformed SSHSIG: ${e.message}`);
    }
    throw e;
  }
}

export function encodeSshsigBlob(sig: Sshsig): Uint8Array {
  return new SshWriter()
    .raw(MAGIC)
    .uint32(VERSION)
    .string(sig.publicKey.blob)
    .string(sig.namespace)
    .string(new Uint8Array(0))
    .string(sig.hashAlgorithm)
    .string(new SshWriter().string(ED25519_KEY_TYPE).string(sig.signature).bytes())
    .bytes();
}

export function formatArmoredSshsig(sig: Sshsig): string {
  const b64 = encodeBase64(encodeSshsigBlob(sig));
  const lines: string[] = [BEGIN];
  for (let i = 0; i < b64.length; i += LINE) lines.push(b64.slice(i, i + LINE));
  lines.push(END);
  return `${lines.join("\n")}\n`;
}

/** The bytes the ed25519 signature covers. */
export function sshsigSignedData(
  namespace: string,
  hashAlgorithm: SshsigHash,
  message: Uint8Array,
): Uint8Array {
  return new SshWriter()
    .raw(MAGIC)
    .string(namespace)
    .string(new Uint8Array(0))
    .string(hashAlgorithm)
    .string(HASHES[hashAlgorithm](message))
    .bytes();
}

/**
 * True when `sig` signs `message` under `namespace`. The namespace is taken from the caller,
 * not from the blob, so a signature made for another purpose (git, file) never verifies.
 */
export async function verifySshsig(
  ed: Ed25519,
  sig: Sshsig,
  message: Uint8Array,
  namespace: string,
): Promise<boolean> {
  if (sig.namespace !== namespace) return false;
  const data = sshsigSignedData(namespace, sig.hashAlgorithm, message);
  return ed.verify(sig.signature, data, sig.publicKey.key);
}

/**
 * Signs like `ssh-keygen -Y sign -n NAMESPACE` (sha512) with an in-process key; the output is
 * byte-identical to ssh-keygen's for the same key and message.
 */
export async function signSshsig(
  ed: Ed25519,
  key: Ed25519SeedKey,
  message: Uint8Array,
  namespace: string,
  hashAlgorithm: SshsigHash = "sha512",
): Promise<string> {
  const derived = await ed.publicKey(key.seed);
  if (!derived.every((b, i) => b === key.publicKey.key[i])) {
    throw new SshKeyError("the private key does not match its public key");
  }
  const data = sshsigSignedData(namespace, hashAlgorithm, message);
  const signature = await ed.sign(data, key.seed);
  return formatArmoredSshsig({ publicKey: key.publicKey, namespace, hashAlgorithm, signature });
}
