/**
 * A compiled re-statement of pve-common `PVE/JSONSchema.pm` check_prop/check_type/check_format
 * and parse_property_string, the code behind PVE's HTTP 400 "Parameter verification failed."
 * (docs/proxmox-behaviour.md#api-envelope-and-errors). Order of checks and error texts follow upstream: missing → type → format →
 * pattern → maxLength → minLength → maximum → minimum → enum, stopping at the first failure.
 */
import { NAMED_FORMATS } from "./named-formats.ts";
import type { PropSchema } from "./pve-schema.ts";

export type Errors = Record<string, string>;

export interface CompiledProp {
  readonly type: string | undefined;
  readonly optional: boolean;
  readonly enumValues: ReadonlySet<string> | undefined;
  readonly enumText: string;
  readonly pattern: RegExp | undefined;
  readonly minimum: { readonly n: number; readonly text: string } | undefined;
  readonly maximum: { readonly n: number; readonly text: string } | undefined;
  readonly minLength: number | undefined;
  readonly maxLength: number | undefined;
  /** Returns the text Perl's `$@` would hold (with its trailing newline), or null. */
  readonly format: ((value: string, path: string) => string | null) | undefined;
  readonly items: CompiledProp | undefined;
  readonly object: CompiledObject | undefined;
  readonly requires: string | undefined;
  readonly alias: string | undefined;
  readonly defaultKey: boolean;
}

export interface CompiledObject {
  readonly props: ReadonlyMap<string, CompiledProp>;
  /** `net[n]` style entries: matches `net0`…`net<count-1>`. */
  readonly indexed: ReadonlyArray<{
    readonly prefix: string;
    readonly count: number;
    readonly prop: CompiledProp;
  }>;
  /** undefined: extra keys allowed (Perl: additionalProperties not defined). */
  readonly additional: boolean | CompiledProp | undefined;
}

const INTEGER_RE = /^[+-]?\d+\n?$/;
const NUMBER_RE = /^[+-]?(?:\d+\.\d+|\d+\.|\.\d+|\d+)(?:[eE][+-]?\d+)?\n?$/;

export const isPerlInteger = (s: string): boolean => INTEGER_RE.test(s);
export const isPerlNumber = (s: string): boolean => NUMBER_RE.test(s);

/**
 * Perl `m/^$pattern$/`: the pattern is pasted in unparenthesised, `$` also matches before a final
 * newline, and apidata.js shows qr// objects as `(?^:…)`, which JS spells `(?:…)`.
 */
export function perlPattern(pattern: string): RegExp {
  const js = pattern.replace(/\(\?\^[a-z]*:/g, "(?:");
  return new RegExp(`^${js}(?=\\n?$)`);
}

/** What Perl's ref() says about a decoded JSON value; "" for plain scalars. */
export function perlRef(value: unknown): string {
  if (typeof value === "boolean") return "JSON::PP::Boolean";
  if (Array.isArray(value)) return "ARRAY";
  if (value !== null && typeof value === "object") return "HASH";
  return "";
}

/** Perl stringification of a scalar the way the error texts show it. */
export function perlString(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

/** Perl characters, not UTF-16 units (strings arrive decoded). */
function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** PVE::Tools::split_list. */
export function splitList(text: string): string[] {
  if (text.includes("\0")) return text.split("\0");
  const t = text.replace(/[,;]/g, " ").replace(/^\s+/, "");
  return t.split(/\s+/).filter((x) => x !== "");
}

/** pve-common add_error: a second message for the same path is appended with a literal `\n`. */
export function addError(errors: Errors, path: string, msg: string): void {
  const p = path === "" ? "_root" : path;
  const prev = errors[p];
  errors[p] = prev === undefined ? msg : `${prev}\\n${msg}`;
}

function numBound(v: number | string | undefined): { n: number; text: string } | undefined {
  if (v === undefined) return undefined;
  return { n: Number(v), text: String(v) };
}

export function compileObject(
  properties: Record<string, PropSchema>,
  additional: PropSchema["additionalProperties"],
  indexCounts: Readonly<Record<string, number>>,
): CompiledObject {
  const props = new Map<string, CompiledProp>();
  const indexed: { prefix: string; count: number; prop: CompiledProp }[] = [];
  for (const [name, schema] of Object.entries(properties)) {
    const m = /^([a-z]+)\[n\]$/.exec(name);
    if (m) {
      const prefix = m[1] as string;
      const count = indexCounts[prefix];
      if (count === undefined) throw new Error(`no index count known for '${name}'`);
      indexed.push({ prefix, count, prop: compileProp(schema, indexCounts) });
    } else {
      props.set(name, compileProp(schema, indexCounts));
    }
  }
  let add: CompiledObject["additional"];
  if (additional === undefined) add = undefined;
  else if (typeof additional === "object") add = compileProp(additional, indexCounts);
  else add = Boolean(additional);
  return { props, indexed, additional: add };
}

export function compileProp(
  schema: PropSchema,
  indexCounts: Readonly<Record<string, number>> = {},
): CompiledProp {
  const hasObject = schema.properties !== undefined || schema.additionalProperties !== undefined;
  return {
    type: schema.type,
    optional: Boolean(schema.optional),
    enumValues: schema.enum ? new Set(schema.enum) : undefined,
    enumText: schema.enum ? schema.enum.join(", ") : "",
    pattern: schema.pattern === undefined ? undefined : perlPattern(schema.pattern),
    minimum: numBound(schema.minimum),
    maximum: numBound(schema.maximum),
    minLength: schema.minLength,
    maxLength: schema.maxLength,
    format: schema.format === undefined ? undefined : compileFormat(schema.format, indexCounts),
    items: schema.items ? compileProp(schema.items, indexCounts) : undefined,
    object: hasObject
      ? compileObject(schema.properties ?? {}, schema.additionalProperties, indexCounts)
      : undefined,
    requires: typeof schema.requires === "string" ? schema.requires : undefined,
    alias: schema.alias,
    defaultKey: Boolean(schema.default_key),
  };
}

function compileFormat(
  format: string | Record<string, PropSchema>,
  indexCounts: Readonly<Record<string, number>>,
): (value: string, path: string) => string | null {
  if (typeof format === "object") {
    const hash = compileObject(format, 0, indexCounts);
    return (value, path) => parsePropertyString(hash, value, path);
  }
  if (format === "regex") return () => null;
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format) as RegExpExecArray;
  const name = m[1] as string;
  const kind = m[2] ?? "none";
  const registered = NAMED_FORMATS.get(name);
  if (registered === undefined) return () => `undefined format '${format}'\n`;
  if (registered.kind === "hash") {
    if (kind !== "none") return () => `'-${kind}' format must have code ref, not hash\n`;
    const hash = compileObject(registered.schema, 0, indexCounts);
    return (value, path) => parsePropertyString(hash, value, path, registered.verify);
  }
  const check = registered.check;
  if (kind === "list") {
    return (value) => {
      for (const item of splitList(value)) {
        const err = check(item);
        if (err !== null) return `${err}\n`;
      }
      return null;
    };
  }
  if (kind === "opt") {
    return (value) => {
      if (value === "" || value === "0") return null;
      const err = check(value);
      return err === null ? null : `${err}\n`;
    };
  }
  return (value) => {
    const err = check(value);
    return err === null ? null : `${err}\n`;
  };
}

/** pve-common parse_property_string plus the PVE::Exception stringification of its errors. */
export function parsePropertyString(
  hash: CompiledObject,
  data: string,
  path: string,
  verify?: (parsed: Readonly<Record<string, string | number>>) => string | null,
): string | null {
  const res: Record<string, string | number> = {};
  let defaultKey: string | undefined;
  for (const part of data.split(",")) {
    if (/^\s*$/.test(part)) continue;
    const kv = /^([^=]+)=(.+)\n?$/.exec(part);
    if (kv) {
      let k = kv[1] as string;
      let v: string | number = kv[2] as string;
      if (res[k] !== undefined) return `duplicate key in comma-separated list property: ${k}\n`;
      let schema = hash.props.get(k);
      if (schema?.alias !== undefined) {
        k = schema.alias;
        schema = hash.props.get(k);
      }
      if (schema === undefined) return `invalid key in comma-separated list property: ${k}\n`;
      if (schema.type === "boolean") {
        if (/^(?:1|on|yes|true)$/i.test(v)) v = 1;
        else if (/^(?:0|off|no|false)$/i.test(v)) v = 0;
      }
      res[k] = v;
    } else if (!part.includes("=")) {
      if (defaultKey !== undefined) {
        return `duplicate key in comma-separated list property: ${defaultKey}\n`;
      }
      for (const [key, p] of hash.props) {
        if (!p.defaultKey) continue;
        defaultKey = key;
        const cur = res[key];
        if (cur === undefined || cur === "" || cur === 0 || cur === "0") {
          res[key] = part;
          break;
        }
        return `duplicate key in comma-separated list property: ${key}\n`;
      }
      if (defaultKey === undefined) {
        return "value without key, but schema does not define a default key\n";
      }
    } else {
      return "missing key in comma-separated list property\n";
    }
  }
  const errors: Errors = {};
  checkObject(path, hash, res, errors);
  const keys = Object.keys(errors);
  if (keys.length === 0) {
    const err = verify?.(res) ?? null;
    return err === null ? null : `${err}\n`;
  }
  // Perl lists the errors in hash order; sorted here so the text is stable.
  return `format error\n${keys
    .sort()
    .map((k) => `${k}: ${errors[k]}\n`)
    .join("")}`;
}

function matchIndexed(obj: CompiledObject, key: string): CompiledProp | undefined {
  if (obj.indexed.length === 0) return undefined;
  const m = /^([a-z]+)(0|[1-9]\d*)$/.exec(key);
  if (!m) return undefined;
  for (const ix of obj.indexed) {
    if (ix.prefix === m[1] && Number(m[2]) < ix.count) return ix.prop;
  }
  return undefined;
}

export function lookupProp(obj: CompiledObject, key: string): CompiledProp | undefined {
  return obj.props.get(key) ?? matchIndexed(obj, key);
}

/**
 * pve-common check_object. Writes coerced values into `out` when given (integers and numbers as
 * JS numbers, booleans as 0/1, other scalars as strings).
 */
export function checkObject(
  path: string,
  obj: CompiledObject,
  value: Record<string, unknown>,
  errors: Errors,
  out?: Record<string, unknown>,
): void {
  const sub = (k: string): string => (path === "" ? k : `${path}.${k}`);
  for (const [k, prop] of obj.props) {
    const coerced = checkProp(value[k], prop, sub(k), errors);
    if (out !== undefined && coerced !== undefined) out[k] = coerced;
  }
  for (const k of Object.keys(value)) {
    const exact = obj.props.get(k);
    const prop = exact ?? matchIndexed(obj, k);
    if (prop !== undefined) {
      if (exact === undefined) {
        const coerced = checkProp(value[k], prop, sub(k), errors);
        if (out !== undefined && coerced !== undefined) out[k] = coerced;
      }
      if (prop.requires !== undefined && isMissing(value[prop.requires])) {
        addError(
          errors,
          sub(prop.requires),
          `missing property - '${sub(k)}' requires this property`,
        );
      }
      continue;
    }
    if (obj.additional === false) {
      addError(
        errors,
        sub(k),
        "property is not defined in schema and the schema does not allow additional properties",
      );
      continue;
    }
    if (typeof obj.additional === "object") {
      const coerced = checkProp(value[k], obj.additional, sub(k), errors);
      if (out !== undefined && coerced !== undefined) out[k] = coerced;
    } else if (out !== undefined && value[k] !== undefined) {
      out[k] = value[k];
    }
  }
}

/** Perl `defined`: JSON null and absent keys are both undef. */
const isMissing = (v: unknown): v is null | undefined => v === undefined || v === null;

/** pve-common check_type for one named type; returns false after recording an error. */
function checkType(
  path: string,
  type: string | undefined,
  value: unknown,
  errors: Errors,
): boolean {
  if (type === undefined || type === "any") return true;
  const ref = perlRef(value);
  switch (type) {
    case "null":
      addError(errors, path, `type check ('null') failed - value is not null`);
      return false;
    case "array":
    case "object":
      if (ref !== (type === "array" ? "ARRAY" : "HASH")) {
        addError(errors, path, `type check ('${type}') failed`);
        return false;
      }
      return true;
  }
  if (ref !== "") {
    if (type === "boolean" && ref === "JSON::PP::Boolean") return true;
    addError(errors, path, `type check ('${type}') failed - got ${ref}`);
    return false;
  }
  const s = perlString(value);
  let ok = true;
  if (type === "boolean") ok = s === "1" || s === "0";
  else if (type === "integer") ok = isPerlInteger(s);
  else if (type === "number") ok = isPerlNumber(s);
  if (!ok) addError(errors, path, `type check ('${type}') failed - got '${s}'`);
  return ok;
}

function coerce(type: string | undefined, value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  switch (type) {
    case "boolean":
    case "integer":
    case "number":
      return Number(perlString(value));
    case "string":
      return perlString(value);
    default:
      return value;
  }
}

/**
 * pve-common check_prop. Returns the coerced value, or undefined when the value is absent or
 * failed (the error is then in `errors`).
 */
export function checkProp(
  value: unknown,
  prop: CompiledProp,
  path: string,
  errors: Errors,
): unknown {
  if (isMissing(value)) {
    if (prop.type === "null") return undefined;
    if (!prop.optional && prop.alias === undefined) {
      addError(errors, path, "property is missing and it is not optional");
    }
    return undefined;
  }
  if (!checkType(path, prop.type, value, errors)) return undefined;
  const ref = perlRef(value);
  if (ref === "ARRAY") {
    const arr = value as unknown[];
    if (prop.items === undefined) return arr;
    return arr.map((el, i) => checkProp(el, prop.items as CompiledProp, `${path}[${i}]`, errors));
  }
  if (ref === "HASH") {
    if (prop.object === undefined) return value;
    const out: Record<string, unknown> = {};
    checkObject(path, prop.object, value as Record<string, unknown>, errors, out);
    return out;
  }
  const s = perlString(value);
  if (prop.format !== undefined) {
    const err = prop.format(s, path);
    if (err !== null) {
      addError(errors, path, `invalid format - ${err}`);
      return undefined;
    }
  }
  if (prop.pattern !== undefined && !prop.pattern.test(s)) {
    addError(errors, path, "value does not match the regex pattern");
    return undefined;
  }
  if (prop.maxLength !== undefined && s.length > prop.maxLength && charLength(s) > prop.maxLength) {
    addError(errors, path, `value may only be ${prop.maxLength} characters long`);
    return undefined;
  }
  if (prop.minLength !== undefined && charLength(s) < prop.minLength) {
    addError(errors, path, `value must be at least ${prop.minLength} characters long`);
    return undefined;
  }
  if ((prop.maximum !== undefined || prop.minimum !== undefined) && isPerlNumber(s)) {
    const n = Number(s);
    if (prop.maximum !== undefined && n > prop.maximum.n) {
      addError(errors, path, `value must have a maximum value of ${prop.maximum.text}`);
      return undefined;
    }
    if (prop.minimum !== undefined && n < prop.minimum.n) {
      addError(errors, path, `value must have a minimum value of ${prop.minimum.text}`);
      return undefined;
    }
  }
  if (prop.enumValues !== undefined && !prop.enumValues.has(s)) {
    addError(
      errors,
      path,
      `value '${s}' does not have a value in the enumeration '${prop.enumText}'`,
    );
    return undefined;
  }
  return coerce(prop.type, value);
}
