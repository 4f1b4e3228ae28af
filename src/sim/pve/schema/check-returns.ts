/**
 * Lenient structural check of response data against a `returns` schema. Perl's JSON output
 * follows how a value was last used, not the schema (docs/proxmox-behaviour.md#json-type-quirks): integers and numbers may
 * come as strings, booleans as 0/1. Extra keys are allowed unless the schema says
 * `additionalProperties: 0` (JSONSchema.pm check_object only rejects them then).
 * Named formats are not checked: they describe inputs, and PVE does not verify results.
 */
import {
  type CompiledObject,
  type CompiledProp,
  isPerlInteger,
  isPerlNumber,
  lookupProp,
} from "./check-prop.ts";

function typeOk(type: string | undefined, v: unknown): boolean {
  switch (type) {
    case undefined:
    case "any":
      return true;
    case "null":
      return v === null || v === undefined;
    case "string":
      return typeof v === "string" || typeof v === "number";
    case "integer":
      return (
        (typeof v === "number" && Number.isInteger(v)) ||
        (typeof v === "string" && isPerlInteger(v))
      );
    case "number":
      return (
        (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && isPerlNumber(v))
      );
    case "boolean":
      return typeof v === "boolean" || v === 0 || v === 1 || v === "0" || v === "1";
    case "array":
      return Array.isArray(v);
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    default:
      return true;
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "string" ? `'${v}'` : typeof v;
}

function walk(prop: CompiledProp, v: unknown, path: string, out: string[]): void {
  if (v === undefined || v === null) {
    if (prop.type !== "null" && prop.type !== undefined && !prop.optional) {
      out.push(`${path}: property is missing and it is not optional`);
    }
    return;
  }
  if (!typeOk(prop.type, v)) {
    out.push(`${path}: expected ${prop.type}, got ${describe(v)}`);
    return;
  }
  if (Array.isArray(v)) {
    const items = prop.items;
    if (items) {
      for (const [i, el] of v.entries()) walk(items, el, `${path}[${i}]`, out);
    }
    return;
  }
  if (typeof v === "object") {
    if (prop.object) walkObject(prop.object, v as Record<string, unknown>, path, out);
    return;
  }
  const s = String(v);
  if (prop.pattern && typeof v === "string" && !prop.pattern.test(s)) {
    out.push(`${path}: value '${s}' does not match the regex pattern`);
  }
  if (prop.enumValues && !prop.enumValues.has(s)) {
    out.push(`${path}: value '${s}' does not have a value in the enumeration '${prop.enumText}'`);
  }
  if ((prop.type === "integer" || prop.type === "number") && isPerlNumber(s)) {
    const n = Number(s);
    if (prop.maximum && n > prop.maximum.n) out.push(`${path}: ${s} is above ${prop.maximum.text}`);
    if (prop.minimum && n < prop.minimum.n) out.push(`${path}: ${s} is below ${prop.minimum.text}`);
  }
}

function walkObject(
  obj: CompiledObject,
  v: Record<string, unknown>,
  path: string,
  out: string[],
): void {
  for (const [k, p] of obj.props) walk(p, v[k], `${path}.${k}`, out);
  for (const k of Object.keys(v)) {
    if (obj.props.has(k)) continue;
    const indexed = lookupProp(obj, k);
    if (indexed) walk(indexed, v[k], `${path}.${k}`, out);
    else if (obj.additional === false) out.push(`${path}.${k}: property is not defined in schema`);
    else if (typeof obj.additional === "object") walk(obj.additional, v[k], `${path}.${k}`, out);
  }
}

export function checkReturns(returns: CompiledProp, data: unknown): string[] {
  const out: string[] = [];
  walk(returns, data, "data", out);
  return out;
}
