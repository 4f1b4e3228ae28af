import { sha512 } from "@noble/hashes/sha2.js";
import { BlowfishState } from "./blowfish.ts";

/**
 * bcrypt_pbkdf, the KDF of passphrase-protected OpenSSH private keys (PROTOCOL.key, kdfname
 * "bcrypt"), from OpenBSD's description: PBKDF2's shape with SHA-512 pre-hashing and a
 * bcrypt-derived core, and an output layout that spreads each block's bytes across the key
 * ("pbkdf2 deviation") so producing only part of the key costs as much as all of it.
 */

/** "OxychromaticBlowfishSwatDynamite": the 32-byte plaintext bcrypt_hash encrypts. */
const MAGIC = new TextEncoder().encode("OxychromaticBlowfishSwatDynamite");
const HASH_WORDS = 8;
const HASH_BYTES = HASH_WORDS * 4;

export class BcryptPbkdfError extends Error {
  override readonly name = "BcryptPbkdfError";
}

/** The core: an EksBlowfish keyed by both SHA-512 digests encrypts MAGIC 64 times. */
function bcryptHash(sha2pass: Uint8Array, sha2salt: Uint8Array): Uint8Array {
  const state = new BlowfishState();
  state.expand(sha2salt, sha2pass);
  for (let i = 0; i < 64; i++) {
    state.expand(null, sha2salt);
    state.expand(null, sha2pass);
  }
  const data = new Uint32Array(HASH_WORDS);
  const view = new DataView(MAGIC.buffer, MAGIC.byteOffset, MAGIC.byteLength);
  for (let i = 0; i < HASH_WORDS; i++) data[i] = view.getUint32(i * 4);
  for (let round = 0; round < 64; round++) {
    for (let i = 0; i < HASH_WORDS; i += 2) state.encipher(data, i);
  }
  // The words leave little-endian, unlike everywhere else in Blowfish; OpenBSD's output
  // format depends on it.
  const out = new Uint8Array(HASH_BYTES);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < HASH_WORDS; i++) outView.setUint32(i * 4, data[i] as number, true);
  return out;
}

export function bcryptPbkdf(
  passphrase: Uint8Array,
  salt: Uint8Array,
  keyLength: number,
  rounds: number,
): Uint8Array {
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new BcryptPbkdfError(`rounds must be a positive integer, got ${rounds}`);
  }
  if (passphrase.length === 0) throw new BcryptPbkdfError("passphrase must not be empty");
  if (salt.length === 0 || salt.length > 1 << 20) {
    throw new BcryptPbkdfError(`salt length ${salt.length} is out of range`);
  }
  if (!Number.isInteger(keyLength) || keyLength < 1 || keyLength > HASH_BYTES * HASH_BYTES) {
    throw new BcryptPbkdfError(`key length ${keyLength} is out of range`);
  }
  const stride = Math.ceil(keyLength / HASH_BYTES);
  const amount = Math.ceil(keyLength / stride);
  const sha2pass = sha512(passphrase);
  const key = new Uint8Array(keyLength);
  const saltCount = new Uint8Array(salt.length + 4);
  saltCount.set(salt);
  const countView = new DataView(saltCount.buffer);

  for (let count = 1, left = keyLength; left > 0; count++) {
    countView.setUint32(salt.length, count);
    let block = bcryptHash(sha2pass, sha512(saltCount));
    const out = new Uint8Array(block);
    for (let r = 1; r < rounds; r++) {
      block = bcryptHash(sha2pass, sha512(block));
      for (let j = 0; j < HASH_BYTES; j++) out[j] = (out[j] as number) ^ (block[j] as number);
    }
    let written = 0;
    for (; written < Math.min(amount, left); written++) {
      const dest = written * stride + (count - 1);
      if (dest >= keyLength) break;
      key[dest] = out[written] as number;
    }
    left -= written;
  }
  return key;
}
