import { BLOWFISH_INITIAL_P, BLOWFISH_INITIAL_S } from "./blowfish-constants.ts";

/**
 * Blowfish with the "expensive key schedule" that bcrypt is built on (Provos & Mazières,
 * "A Future-Adaptable Password Scheme", 1999). Only what bcrypt_pbkdf needs is here: the
 * state, its two expansion steps and block encryption. Words are read from byte strings
 * big-endian and cyclically, as OpenBSD's blf.c does.
 */
export class BlowfishState {
  readonly p = Uint32Array.from(BLOWFISH_INITIAL_P);
  /** The four S-boxes back to back: S0 at 0, S1 at 256, S2 at 512, S3 at 768. */
  readonly s = Uint32Array.from(BLOWFISH_INITIAL_S);
  /** Left/right halves of the block being enciphered; avoids allocating per block. */
  readonly #lr = new Uint32Array(2);

  #f(x: number): number {
    const s = this.s;
    return (
      ((((s[x >>> 24] as number) + (s[0x100 | ((x >>> 16) & 0xff)] as number)) ^
        (s[0x200 | ((x >>> 8) & 0xff)] as number)) +
        (s[0x300 | (x & 0xff)] as number)) >>>
      0
    );
  }

  /** Enciphers the 64-bit block held in `lr` in place. */
  encipher(lr: Uint32Array, at = 0): void {
    const p = this.p;
    let l = (lr[at] as number) ^ (p[0] as number);
    let r = lr[at + 1] as number;
    for (let i = 1; i <= 16; i += 2) {
      r ^= this.#f(l) ^ (p[i] as number);
      l ^= this.#f(r) ^ (p[i + 1] as number);
    }
    lr[at] = (r ^ (p[17] as number)) >>> 0;
    lr[at + 1] = l >>> 0;
  }

  /** Mixes `key` into the P-array, then rekeys P and S by enciphering, folding in `data`. */
  expand(data: Uint8Array | null, key: Uint8Array): void {
    const keyStream = new WordStream(key);
    for (let i = 0; i < 18; i++) this.p[i] = ((this.p[i] as number) ^ keyStream.next()) >>> 0;
    const dataStream = data ? new WordStream(data) : null;
    const lr = this.#lr;
    lr[0] = 0;
    lr[1] = 0;
    const step = (target: Uint32Array, i: number) => {
      if (dataStream) {
        lr[0] = (lr[0] as number) ^ dataStream.next();
        lr[1] = (lr[1] as number) ^ dataStream.next();
      }
      this.encipher(lr);
      target[i] = lr[0] as number;
      target[i + 1] = lr[1] as number;
    };
    for (let i = 0; i < 18; i += 2) step(this.p, i);
    for (let i = 0; i < 1024; i += 2) step(this.s, i);
  }
}

/** Reads big-endian 32-bit words from a byte string, wrapping around at its end. */
class WordStream {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {
    if (bytes.length === 0) throw new RangeError("Blowfish key material must not be empty");
  }
  next(): number {
    let w = 0;
    for (let i = 0; i < 4; i++) {
      w = (w << 8) | (this.bytes[this.#at] as number);
      this.#at = (this.#at + 1) % this.bytes.length;
    }
    return w >>> 0;
  }
}
