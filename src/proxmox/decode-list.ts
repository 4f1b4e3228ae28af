import type { z } from "zod";

/** A list item that could not be decoded as a whole. */
export interface ListItemProblem {
  /** Which read: `lxc`, `storage`, `node-storage`, `storage-content`, `cluster-resources`, `tasks`, `nodes`. */
  list: string;
  /** Position in the list as Proxmox sent it. */
  index: number;
  /** The guest, when the item names one that could be read. */
  vmid?: number;
  /** The item's own id when it has one (storage id, volid, UPID, resource id, node). */
  id?: string;
  /**
   * `partial`: the item is in the list without the named fields (read as absent);
   * `dropped`: the item is not in the list, its identity or required fields were unreadable.
   */
  outcome: "partial" | "dropped";
  /** Top-level fields that failed. */
  fields: string[];
  /** One line per failure: `field: why (got value)`. */
  issues: string[];
}

/**
 * A decoded list. `problems` lists the items that did not decode whole; absent or empty means
 * every item did. Still an array, so code that only wants the items needs no change.
 */
export type DecodedList<T> = T[] & { readonly problems?: readonly ListItemProblem[] };

export interface ListSpec {
  list: string;
  /** The item's identity from its raw form, for the report. */
  identify(raw: Record<string, unknown>): { vmid?: number; id?: string };
}

const MAX_VALUE_TEXT = 60;

/**
 * Decodes each item on its own, so one item Proxmox sends in an unexpected form never blanks
 * the whole list (docs/proxmox-behaviour.md#per-item-list-decoding). An item whose failing
 * fields are all optional is kept without them; one that still fails is left out. Both are
 * reported in `problems`.
 */
export function decodeList<T>(
  raw: readonly unknown[],
  schema: z.ZodType<T, unknown>,
  spec: ListSpec,
): DecodedList<T> {
  const items: T[] = [];
  const problems: ListItemProblem[] = [];
  raw.forEach((item, index) => {
    const first = schema.safeParse(item);
    if (first.success) {
      items.push(first.data);
      return;
    }
    const obj = isRecord(item) ? item : undefined;
    const fields = [
      ...new Set(first.error.issues.map((i) => (i.path.length > 0 ? String(i.path[0]) : ""))),
    ];
    const issues = first.error.issues.map((i) => describeIssue(i, obj));
    const ident = obj ? safeIdentify(spec, obj) : {};
    const report = (outcome: ListItemProblem["outcome"]) =>
      problems.push({ list: spec.list, index, ...ident, outcome, fields: fields, issues });
    if (obj && !fields.includes("")) {
      const trimmed: Record<string, unknown> = { ...obj };
      for (const f of fields) delete trimmed[f];
      const again = schema.safeParse(trimmed);
      if (again.success) {
        items.push(again.data);
        report("partial");
        return;
      }
    }
    report("dropped");
  });
  return problems.length > 0 ? Object.assign(items, { problems }) : items;
}

/** A vmid as PVE sends it: a number or a decimal string (older releases). */
export function rawVmid(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** A short text id from a raw field, if it is one. */
export function rawId(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return typeof v === "string" && v.length > 0 ? v.slice(0, 200) : undefined;
}

function safeIdentify(
  spec: ListSpec,
  obj: Record<string, unknown>,
): { vmid?: number; id?: string } {
  const { vmid, id } = spec.identify(obj);
  return { ...(vmid !== undefined ? { vmid } : {}), ...(id !== undefined ? { id } : {}) };
}

function describeIssue(issue: z.core.$ZodIssue, obj: Record<string, unknown> | undefined): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "item";
  const value = obj && issue.path.length > 0 ? valueAt(obj, issue.path) : undefined;
  const got = value === undefined ? "" : ` (got ${valueText(value)})`;
  return `${where}: ${issue.message}${got}`;
}

function valueAt(obj: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isRecord(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function valueText(v: unknown): string {
  let text: string;
  try {
    text = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  return text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT)}…` : text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
