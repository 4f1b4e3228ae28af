import { createDecipheriv } from "node:crypto";
import { decodeBase64Strict } from "./base64.ts";
import { bcryptPbkdf } from "./bcrypt-pbkdf.ts";
import {
  ED25519_KEY_TYPE,
  type Ed25519PublicKey,
  ed25519PublicKeyFromBlob,
  SshKeyError,
} from "./ssh-public-key.ts";
import { SshReader, SshWireError } from "./ssh-wire.ts";

/**
 * OpenSSH's private key file (PROTOCOL.key): "openssh-key-v1\0", cipher, KDF and its options,
 * the public keys, then the private section, encrypted when a passphrase was set. ssh-keygen
 * encrypts with aes256-ctr and derives key and IV with bcrypt_pbkdf; that is the one encrypted
 * form read here.
 */

export interface Ed25519PrivateKey {
  /** The 32-byte RFC 8032 secret seed. Keep it out of logs and errors. */
  seed: Uint8Array;
  publicKey: Ed25519PublicKey;
  comment: string;
}

export type PrivateKeyErrorReason =
  | "malformed"
  | "unsupported"
  | "passphrase_required"
  | "wrong_passphrase";

/** Why a private key file could not be used. Never carries key material. */
export class PrivateKeyError extends Error {
  override readonly name = "PrivateKeyError";
  constructor(
    readonly reason: PrivateKeyErrorReason,
    message: string,
  ) {
    super(message);
  }
}

const AUTH_MAGIC = new TextEncoder().encode("openssh-key-v1\0");
const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";

/** Whether the key file needs a passphrase, without trying one. */
export function isEncryptedOpenSshPrivateKey(text: string): boolean {
  const r = new SshReader(dearmor(text));
  r.raw(AUTH_MAGIC.length, "magic");
  return r.text("cipher name") !== "none";
}

export function parseOpenSshPrivateKey(
  text: string,
  passphrase?: Uint8Array | string,
): Ed25519PrivateKey {
  try {
    return parse(dearmor(text), passphrase);
  } catch (e) {
    if (e instanceof SshWireError || e instanceof SshKeyError) {
      throw new PrivateKeyError("malformed", `not a valid OpenSSH private key: ${e.message}`);
    }
    throw e;
  }
}

function dearmor(text: string): Uint8Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const start = lines.indexOf(BEGIN);
  const end = lines.indexOf(END);
  if (start < 0 || end < start) {
    throw new PrivateKeyError(
      "malformed",
      `not an OpenSSH private key (expected '${BEGIN}'; PEM/PKCS#8 keys can be converted with 'ssh-keygen -p -f FILE')`,
    );
  }
  const bytes = decodeBase64Strict(lines.slice(start + 1, end).join(""));
  if (!bytes) throw new PrivateKeyError("malformed", "private key body is not valid base64");
  for (let i = 0; i < AUTH_MAGIC.length; i++) {
    if (bytes[i] !== AUTH_MAGIC[i]) {
      throw new PrivateKeyError("malformed", "private key does not start with openssh-key-v1");
    }
  }
  return bytes;
}

function parse(bytes: Uint8Array, passphrase: Uint8Array | string | undefined): Ed25519PrivateKey {
  const r = new SshReader(bytes);
  r.raw(AUTH_MAGIC.length, "magic");
  const cipher = r.text("cipher name");
  const kdf = r.text("kdf name");
  const kdfOptions = r.string("kdf options");
  const count = r.uint32("key count");
  if (count !== 1) {
    throw new PrivateKeyError("unsupported", `file holds ${count} keys; exactly one is supported`);
  }
  const publicBlob = r.string("public key");
  const publicType = new SshReader(publicBlob).text("key type");
  if (publicType !== ED25519_KEY_TYPE) {
    throw new PrivateKeyError(
      "unsupported",
      `key type '${publicType}' is not supported, only ${ED25519_KEY_TYPE}`,
    );
  }
  const publicKey = ed25519PublicKeyFromBlob(publicBlob);
  const sealed = r.string("private section");
  r.end("private key file");

  const plain = decrypt(cipher, kdf, kdfOptions, sealed, passphrase);
  const p = new SshReader(plain);
  const check1 = p.uint32("check");
  const check2 = p.uint32("check");
  if (check1 !== check2) {
    // The two random check words only match when decryption used the right key.
    throw new PrivateKeyError("wrong_passphrase", "wrong passphrase for the private key");
  }
  const type = p.text("key type");
  if (type !== ED25519_KEY_TYPE) {
    throw new PrivateKeyError(
      "unsupported",
      `key type '${type}' is not supported, only ssh-ed25519`,
    );
  }
  const pub = p.string("ed25519 public key");
  const secret = p.string("ed25519 secret key");
  const comment = new TextDecoder().decode(p.string("comment"));
  const padding = p.raw(p.remaining, "padding");
  // Padding is 1, 2, 3, … (PROTOCOL.key); anything else means a damaged or forged file.
  if (padding.some((b, i) => b !== ((i + 1) & 0xff))) {
    throw new PrivateKeyError("malformed", "private section padding is invalid");
  }
  // OpenSSH stores the ed25519 secret as seed || public key.
  if (secret.length !== 64 || pub.length !== 32) {
    throw new PrivateKeyError("malformed", "ed25519 private key has the wrong length");
  }
  const tail = secret.subarray(32);
  if (!equalBytes(pub, tail) || !equalBytes(pub, publicKey.key)) {
    throw new PrivateKeyError("malformed", "public and private parts of the key do not match");
  }
  return { seed: new Uint8Array(secret.subarray(0, 32)), publicKey, comment };
}

function decrypt(
  cipher: string,
  kdf: string,
  kdfOptions: Uint8Array,
  sealed: Uint8Array,
  passphrase: Uint8Array | string | undefined,
): Uint8Array {
  if (cipher === "none") {
    if (kdf !== "none") throw new PrivateKeyError("malformed", `kdf '${kdf}' without a cipher`);
    return sealed;
  }
  if (cipher !== "aes256-ctr") {
    throw new PrivateKeyError(
      "unsupported",
      `cipher '${cipher}' is not supported (use aes256-ctr, the ssh-keygen default)`,
    );
  }
  if (kdf !== "bcrypt") throw new PrivateKeyError("unsupported", `kdf '${kdf}' is not supported`);
  if (passphrase === undefined || passphrase.length === 0) {
    throw new PrivateKeyError(
      "passphrase_required",
      "the private key is protected by a passphrase",
    );
  }
  const o = new SshReader(kdfOptions);
  const salt = o.string("bcrypt salt");
  const rounds = o.uint32("bcrypt rounds");
  o.end("kdf options");
  // ssh-keygen uses 16 rounds by default; a bound keeps a hostile file from pinning the CPU.
  if (rounds < 1 || rounds > 1024) {
    throw new PrivateKeyError("unsupported", `bcrypt rounds ${rounds} is out of range 1..1024`);
  }
  if (sealed.length % 16 !== 0) {
    throw new PrivateKeyError("malformed", "encrypted section is not a whole number of blocks");
  }
  const pass = typeof passphrase === "string" ? new TextEncoder().encode(passphrase) : passphrase;
  const keyIv = bcryptPbkdf(pass, salt, 48, rounds);
  const decipher = createDecipheriv("aes-256-ctr", keyIv.subarray(0, 32), keyIv.subarray(32));
  const out = new Uint8Array(decipher.update(sealed));
  keyIv.fill(0);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
