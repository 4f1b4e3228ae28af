/**
 * Canonical JSON text of a value: object keys sorted by code unit, no whitespace, `undefined`
 * object members dropped. Two parameter sets are the same action exactly when their canonical
 * texts are equal, whatever key order the signer's tool wrote.
 */
export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

export function canonicalJson(value: unknown): string {
  return encode(value, "$");
}

function encode(value: unknown, at: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${at}: non-finite number`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value
          .map((v, i) => {
            if (v === undefined) throw new CanonicalJsonError(`${at}[${i}]: undefined`);
            return encode(v, `${at}[${i}]`);
          })
          .join(",")}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError(`${at}: not a plain object`);
      }
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${encode(v, `${at}.${k}`)}`).join(",")}}`;
    }
    default:
      throw new CanonicalJsonError(`${at}: ${typeof value} is not JSON`);
  }
}
