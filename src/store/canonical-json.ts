import { CanonicalJsonError, canonicalJson as encode } from "../util/canonical-json.ts";
import { invalidArgument } from "./errors.ts";

/** Canonical JSON (src/util/canonical-json.ts); a value JSON cannot hold is an invalid argument. */
export function canonicalJson(value: unknown): string {
  try {
    return encode(value);
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw invalidArgument(e.message);
    throw e;
  }
}

/** Parses JSON text and re-serialises it canonically; refuses text that is not JSON. */
export function canonicalizeJsonText(text: string, what: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
  return canonicalJson(parsed);
}
