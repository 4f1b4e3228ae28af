import { isSecretKey } from "./secret-keys.ts";

export const REDACTED = "<redacted>";

export interface RedactorOptions {
  /** Known secret strings, asked for on every use so that secrets added later count too. */
  secrets?: () => Iterable<string>;
  /** Longest string kept (after redaction); longer ones are cut with a marker. */
  maxStringLength?: number;
  maxDepth?: number;
  /** Most array elements / object keys kept. */
  maxEntries?: number;
}

/** Turns arbitrary values into JSON-safe values with every secret removed. */
export interface Redactor {
  text(s: string): string;
  /** JSON-safe copy: no cycles, no BigInt, no raw bytes, secrets replaced. */
  value(v: unknown): unknown;
}

// Secrets recognisable by shape even when nobody registered them.
const SHAPE_RULES: [RegExp, string][] = [
  // The Proxmox Authorization header: keep the token id, drop the secret (docs/proxmox-behaviour.md#api-tokens).
  [/(PVEAPIToken[= ][^\s=;"']+=)[^\s;"',}]+/gi, `$1${REDACTED}`],
  [/(PVEAuthCookie=)[^\s;"',}]+/gi, `$1${REDACTED}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, `$1 ${REDACTED}`],
  // user:password@ in URLs.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi, `$1${REDACTED}@`],
];
// ?token=… style query parameters, judged by the same rule as field names.
const QUERY_PARAM = /([?&])([A-Za-z0-9_.\-[\]]+)=([^&#\s"']*)/g;

export function createRedactor(opts: RedactorOptions = {}): Redactor {
  const maxString = opts.maxStringLength ?? 8192;
  const maxDepth = opts.maxDepth ?? 8;
  const maxEntries = opts.maxEntries ?? 200;

  const knownSecrets = (): string[] => {
    const out = new Set<string>();
    for (const s of opts.secrets?.() ?? []) {
      if (typeof s !== "string" || s === "") continue;
      out.add(s);
      // The same secret as it appears inside a URL or inside JSON text.
      out.add(encodeURIComponent(s));
      out.add(JSON.stringify(s).slice(1, -1));
    }
    // Longest first, so a secret that contains another is removed whole.
    return [...out].sort((a, b) => b.length - a.length);
  };

  const scrub = (s: string, secrets: readonly string[]): string => {
    let t = s;
    for (const secret of secrets) if (t.includes(secret)) t = t.split(secret).join(REDACTED);
    for (const [re, rep] of SHAPE_RULES) t = t.replace(re, rep);
    t = t.replace(QUERY_PARAM, (all, sep: string, name: string) =>
      isSecretKey(name) ? `${sep}${name}=${REDACTED}` : all,
    );
    // Cut after redaction: cutting first could leave half a secret behind.
    if (t.length > maxString) {
      t = `${t.slice(0, maxString)}…[${t.length - maxString} more chars]`;
    }
    return t;
  };

  const walk = (
    v: unknown,
    secrets: readonly string[],
    depth: number,
    seen: Set<object>,
  ): unknown => {
    switch (typeof v) {
      case "string":
        return scrub(v, secrets);
      case "number":
        return Number.isFinite(v) ? v : String(v);
      case "boolean":
      case "undefined":
        return v;
      case "bigint":
        return v.toString();
      case "symbol":
        return scrub(v.toString(), secrets);
      case "function":
        return `[Function ${v.name || "anonymous"}]`;
    }
    if (v === null) return null;
    const obj = v as object;
    if (seen.has(obj)) return "[Circular]";
    if (depth >= maxDepth) return Array.isArray(obj) ? "[Array]" : "[Object]";
    if (obj instanceof Date)
      return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
    if (obj instanceof URL) return scrub(obj.href, secrets);
    // Raw bytes may be key material; their size is all a log needs.
    if (ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
    if (obj instanceof ArrayBuffer) return `[ArrayBuffer ${obj.byteLength} bytes]`;
    seen.add(obj);
    try {
      if (obj instanceof Error) return walkError(obj, secrets, depth, seen);
      if (Array.isArray(obj)) return walkList(obj, secrets, depth, seen);
      if (obj instanceof Set) return walkList([...obj], secrets, depth, seen);
      if (obj instanceof Map) {
        return walkEntries(
          [...obj].map(([k, x]) => [String(k), x]),
          secrets,
          depth,
          seen,
        );
      }
      const toJSON = (obj as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") {
        try {
          return walk(toJSON.call(obj), secrets, depth + 1, seen);
        } catch {
          return "[unserialisable]";
        }
      }
      const entries: [string, unknown][] = [];
      for (const k of Object.keys(obj)) {
        try {
          entries.push([k, (obj as Record<string, unknown>)[k]]);
        } catch {
          entries.push([k, "[getter threw]"]);
        }
      }
      return walkEntries(entries, secrets, depth, seen);
    } finally {
      seen.delete(obj);
    }
  };

  const walkList = (
    list: unknown[],
    secrets: readonly string[],
    depth: number,
    seen: Set<object>,
  ) => {
    const out = list.slice(0, maxEntries).map((x) => walk(x, secrets, depth + 1, seen) ?? null);
    if (list.length > maxEntries) out.push(`…[${list.length - maxEntries} more]`);
    return out;
  };

  const walkEntries = (
    entries: [string, unknown][],
    secrets: readonly string[],
    depth: number,
    seen: Set<object>,
  ) => {
    const out: Record<string, unknown> = {};
    for (const [k, x] of entries.slice(0, maxEntries)) {
      out[scrub(k, secrets)] = isSecretKey(k) ? REDACTED : walk(x, secrets, depth + 1, seen);
    }
    if (entries.length > maxEntries) out["…"] = `${entries.length - maxEntries} more keys`;
    return out;
  };

  const walkError = (e: Error, secrets: readonly string[], depth: number, seen: Set<object>) => {
    // Name, message and the error's own data fields; never the raw object (it may hold a
    // request with its headers, a socket, or cycles).
    const out: Record<string, unknown> = {
      name: scrub(String(e.name), secrets),
      message: scrub(String(e.message), secrets),
    };
    const own: [string, unknown][] = [];
    for (const k of Object.keys(e)) {
      if (k === "name" || k === "message" || k === "stack") continue;
      const x = (e as unknown as Record<string, unknown>)[k];
      if (typeof x !== "function") own.push([k, x]);
    }
    Object.assign(out, walkEntries(own, secrets, depth, seen));
    if (e.cause !== undefined) out.cause = walk(e.cause, secrets, depth + 1, seen);
    if (typeof e.stack === "string") out.stack = scrub(e.stack, secrets);
    return out;
  };

  return {
    text: (s) => scrub(s, knownSecrets()),
    value: (v) => walk(v, knownSecrets(), 0, new Set()),
  };
}
