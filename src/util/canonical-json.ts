export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

const MAX_DEPTH = 64;

/**
 * JSON text with object keys sorted at every level and no whitespace, so equal values always
 * serialise to the same bytes: the audit hash and the binding of a signature to an action
 * (two parameter sets are the same action exactly when their canonical texts are equal) depend
 * on it.
 * Object properties whose value is `undefined` are left out (as JSON.stringify does); anything
 * JSON cannot carry faithfully (NaN, Infinity, bigint, functions, class instances such as Date,
 * cycles) is refused rather than silently changed.
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
    parts.push(`${JSON.stringify(key)}:${write(v, depth + 1, `${at}.${key}`)}`);
  }
  return `{${parts.join(",")}}`;
}
