import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
} from "node:crypto";
import type { SealedSecret } from "../ops/params/sealed.ts";

/**
 * Secrets the hub hands to one host (a CIFS or PBS password) travel and rest "sealed" to that
 * host's key, so the hub's database alone never holds them in clear (docs/hub-protocol.md#sealed-secrets).
 * The host key is the enrolled ed25519 key; its X25519 form is the standard birational map
 * (RFC 7748 section 4.1, the same conversion libsodium's `crypto_sign_ed25519_pk_to_curve25519`
 * makes). The box is an ephemeral X25519 agreement, HKDF-SHA256 and AES-256-GCM: all from
 * node:crypto, nothing home-made.
 */

const VERSION = 1;
const INFO = Buffer.from("felhom-agent sealed secret v1");
const P = 2n ** 255n - 19n;
const X25519_PKCS8 = Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");

/** The box does not open with this key, or is not a box. The secret is never in the message. */
export class SealedSecretError extends Error {
  override readonly name = "SealedSecretError";
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function leToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

function bigintToLe(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The X25519 public key of an ed25519 public key: u = (1 + y) / (1 - y) mod p. */
export function x25519PublicFromEd25519(edPublic: Uint8Array): Buffer {
  if (edPublic.length !== 32) throw new SealedSecretError("host public key: not 32 bytes");
  const yBytes = Uint8Array.from(edPublic);
  yBytes[31] = (yBytes[31] as number) & 0x7f;
  const y = leToBigint(yBytes);
  const denominator = (1n - y + P) % P;
  if (denominator === 0n) throw new SealedSecretError("host public key: not usable for sealing");
  return bigintToLe(((1n + y) * modPow(denominator, P - 2n)) % P);
}

/** The X25519 secret of an ed25519 seed: the first half of SHA-512(seed) (clamped by X25519). */
function x25519SecretFromSeed(seed: Uint8Array) {
  const scalar = createHash("sha512").update(seed).digest().subarray(0, 32);
  return createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, scalar]),
    format: "der",
    type: "pkcs8",
  });
}

function publicKeyObject(raw: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: "der", type: "spki" });
}

function rawPublic(key: ReturnType<typeof createPublicKey>): Buffer {
  return key.export({ format: "der", type: "spki" }).subarray(X25519_SPKI.length);
}

function boxKey(shared: Buffer, ephemeral: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([ephemeral, recipient]), INFO, 32));
}

/** Seals `plain` to the host whose ed25519 public key this is (what the hub does). */
export function sealToHost(plain: string, hostEd25519Public: Uint8Array): SealedSecret {
  const recipient = x25519PublicFromEd25519(hostEd25519Public);
  const eph = generateKeyPairSync("x25519");
  const ephPublic = rawPublic(eph.publicKey);
  const shared = diffieHellman({
    privateKey: eph.privateKey,
    publicKey: publicKeyObject(recipient),
  });
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", boxKey(shared, ephPublic, recipient), nonce);
  cipher.setAAD(INFO);
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
  const box = Buffer.concat([Buffer.from([VERSION]), ephPublic, nonce, body]);
  return { sealed: box.toString("base64") };
}

/** Opens a box sealed to this host, with the host key's ed25519 seed. */
export function openSealed(box: SealedSecret, hostSeed: Uint8Array): string {
  const bytes = Buffer.from(box.sealed, "base64");
  if (bytes.length < 1 + 32 + 12 + 16 || bytes[0] !== VERSION) {
    throw new SealedSecretError("sealed secret: not a version 1 box");
  }
  const ephPublic = bytes.subarray(1, 33);
  const nonce = bytes.subarray(33, 45);
  const body = bytes.subarray(45, bytes.length - 16);
  const tag = bytes.subarray(bytes.length - 16);
  const secret = x25519SecretFromSeed(hostSeed);
  const recipient = rawPublic(createPublicKey(secret));
  try {
    const shared = diffieHellman({ privateKey: secret, publicKey: publicKeyObject(ephPublic) });
    const decipher = createDecipheriv("aes-256-gcm", boxKey(shared, ephPublic, recipient), nonce);
    decipher.setAAD(INFO);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw new SealedSecretError("sealed secret: does not open with this host's key");
  }
}
