import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";

/**
 * The ed25519 operations signed operations need. Verification is strict RFC 8032 (noble's
 * `zip215: false`: canonical encodings only, small-order keys refused), because an operator
 * signature must have exactly one valid form.
 */
export interface Ed25519 {
  readonly mode: Ed25519Mode;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  sign(message: Uint8Array, seed: Uint8Array): Promise<Uint8Array>;
  publicKey(seed: Uint8Array): Promise<Uint8Array>;
}

/**
 * `sync`: noble's synchronous API with @noble/hashes SHA-512 (measured fastest, see
 * bench/authz-verify.ts). `async`: noble's async API, whose SHA-512 is WebCrypto's.
 */
export type Ed25519Mode = "sync" | "async";

const STRICT = { zip215: false } as const;

export function createEd25519(mode: Ed25519Mode = "sync"): Ed25519 {
  if (mode === "async") {
    return {
      mode,
      verify: async (sig, msg, pub) => {
        try {
          return await ed.verifyAsync(sig, msg, pub, STRICT);
        } catch {
          return false;
        }
      },
      sign: (msg, seed) => ed.signAsync(msg, seed),
      publicKey: (seed) => ed.getPublicKeyAsync(seed),
    };
  }
  // noble's synchronous API reads its SHA-512 from a library-wide slot; it is set once here,
  // only when empty, to the same function every caller would choose.
  ed.hashes.sha512 ??= sha512;
  return {
    mode,
    verify: async (sig, msg, pub) => {
      try {
        return ed.verify(sig, msg, pub, STRICT);
      } catch {
        return false;
      }
    },
    sign: async (msg, seed) => ed.sign(msg, seed),
    publicKey: async (seed) => ed.getPublicKey(seed),
  };
}
