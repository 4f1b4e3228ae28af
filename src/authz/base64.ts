/**
 * Strict base64: the alphabet, the padding and canonical trailing bits are all checked, so one
 * blob has exactly one textual form. Lenient decoders silently drop stray characters, which
 * would let two different envelopes decode to the same bytes.
 */
const STANDARD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

export function decodeBase64Strict(text: string): Uint8Array | null {
  if (!STANDARD.test(text)) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  return encodeBase64(bytes) === text ? bytes : null;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Unpadded base64url, as used for nonces. */
export function decodeBase64UrlStrict(text: string): Uint8Array | null {
  if (!URL_SAFE.test(text) || text.length % 4 === 1) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64url"));
  return encodeBase64Url(bytes) === text ? bytes : null;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}
