export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

const MAX_DEPTH = 64;

/** A UTF-16 surrogate not paired with its other half: not a Unicode character at all. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The JSON Canonicalization Scheme of RFC 8785 (JCS) for the plain JSON values the agent
 * produces, so equal values always serialise to the same bytes and the hub can recompute them
 * with any JCS implementation: the audit hash (docs/hub-protocol.md#the-hub-is-the-audit-logs-anchor)
 * and the binding of a signature to an action (two parameter sets are the same action exactly
 * when their canonical texts are equal) depend on it. What RFC 8785 section 3.2 asks, and how:
 * - no whitespace between tokens;
 * - object keys sorted by their UTF-16 code units (section 3.2.3), which is what
 *   `Array.prototype.sort` without a comparator does;
 * - numbers as ECMAScript's Number-to-String (section 3.2.2.3), which JSON.stringify uses
 *   (so -0 is `0`, 1e21 is `1e+21`);
 * - strings escaped as JSON.stringify does (section 3.2.2.2: `\"`, `\\`, `\b\t\n\f\r`, other
 *   controls as lowercase `\u00hh`, everything else as is).
 * Input must be I-JSON (RFC 8785 section 3.1, RFC 7493), so a string or key holding a lone
 * surrogate is refused, as are NaN, Infinity, bigint, functions, class instances such as Date
 * and cycles: refused rather than silently changed. Object properties whose value is
 * `undefined` are left out (as JSON.stringify does).
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0, "$");
}

function write(value: unknown, depth: number, at: string): string {
  if (depth > MAX_DEPTH)
    throw new CanonicalJsonError(`JSON value nested deeper than ${MAX_DEPTH} at ${at}`);
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return writeString(value, at);
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new CanonicalJsonError(`${at} is ${value}, which JSON cannot hold`);
      return JSON.stringify(value);
    case "object":
      break;
    default:
      throw new CanonicalJsonError(`${at} is a ${typeof value}, which JSON cannot hold`);
  }
  if (Array.isArray(value)) {
    const items = value.map((v, i) => {
      if (v === undefined) throw new CanonicalJsonError(`${at}[${i}] is undefined`);
      return write(v, depth + 1, `${at}[${i}]`);
    });
    return `[${items.join(",")}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(
      `${at} is a ${proto?.constructor?.name ?? "non-plain"} object; pass plain JSON`,
    );
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const v = record[key];
    if (v === undefined) continue;
    parts.push(`${writeString(key, `${at} key`)}:${write(v, depth + 1, `${at}.${key}`)}`);
  }
  return `{${parts.join(",")}}`;
}

function writeString(text: string, at: string): string {
  if (LONE_SURROGATE.test(text))
    throw new CanonicalJsonError(`${at} holds a lone UTF-16 surrogate, which is not Unicode text`);
  return JSON.stringify(text);
}
