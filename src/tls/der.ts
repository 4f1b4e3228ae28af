/**
 * The few DER (ITU-T X.690) encodings a certificate needs, written out rather than pulled in
 * with an ASN.1 library (docs/bun-runtime.md#local-api-certificate-without-an-x509-library).
 * Every function returns the complete TLV; nothing here parses.
 */

export type Der = Uint8Array<ArrayBuffer>;

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One TLV with a one-byte tag. */
export function tlv(tag: number, content: Uint8Array): Der {
  return concat([Uint8Array.of(tag), length(content.length), content]);
}

export const sequence = (...items: Der[]): Der => tlv(0x30, concat(items));
export const set = (...items: Der[]): Der => tlv(0x31, concat(items));
/** `[n] EXPLICIT`: a constructed context tag around one encoding. */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** `[n] IMPLICIT` over a primitive type: the context tag replaces the type's own. */
export const implicitPrimitive = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content);
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes);
export const boolean = (v: boolean): Der => tlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
export const utf8String = (s: string): Der => tlv(0x0c, new TextEncoder().encode(s));

/** A non-negative INTEGER from big-endian magnitude bytes: minimal, with a sign byte if needed. */
export function unsignedInteger(magnitude: Uint8Array): Der {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const trimmed = magnitude.subarray(i);
  const body =
    trimmed.length === 0
      ? Uint8Array.of(0)
      : (trimmed[0] as number) & 0x80
        ? concat([Uint8Array.of(0), trimmed])
        : trimmed;
  return tlv(0x02, body);
}

export const smallInteger = (n: number): Der => unsignedInteger(Uint8Array.of(n));

/** A BIT STRING of whole bytes (a key, a signature): no unused bits. */
export const bitString = (bytes: Uint8Array): Der => tlv(0x03, concat([Uint8Array.of(0), bytes]));

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte, and
 * DER drops trailing zero bits, stating how many bits of the last byte are unused.
 */
export function namedBits(bits: readonly number[]): Der {
  const top = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(top / 8) + 1);
  for (const b of bits) bytes[b >> 3] = (bytes[b >> 3] as number) | (0x80 >> (b & 7));
  return tlv(0x03, concat([Uint8Array.of(7 - (top & 7)), bytes]));
}

export function objectIdentifier(dotted: string): Der {
  const arcs = dotted.split(".").map((a) => Number(a));
  const [a, b, ...rest] = arcs as [number, number, ...number[]];
  const out: number[] = [40 * a + b];
  for (const arc of rest) {
    const groups: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      groups.unshift(0x80 | (v & 0x7f));
    }
    out.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/**
 * RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in UTC to the
 * second with a `Z`.
 */
export function time(d: Date): Der {
  const iso = d.toISOString(); // 2026-06-01T12:00:00.000Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(digits.slice(2)));
  return tlv(0x18, new TextEncoder().encode(digits));
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
