import { invalidArgument } from "./errors.ts";

/** Who asked for a mutation; the gate and the audit log read it, so it is a closed set. */
export type Origin = "reconcile" | "localapi" | "job" | "operator" | "schedule";
export const ORIGINS: readonly Origin[] = ["reconcile", "localapi", "job", "operator", "schedule"];

// Guest ids are `pve-vmid`: minimum 100, maximum 999999999 (docs/proxmox-behaviour.md#api-schema-source).
const VMID_MIN = 100;
const VMID_MAX = 999_999_999;

// `guest.snapshot`, `guest.snapshot.delete`, `storage.add`: the noun.verb vocabulary (docs/architecture.md#signed-operations).
const OP_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export function checkVmid(vmid: number, what = "vmid"): number {
  if (!Number.isInteger(vmid) || vmid < VMID_MIN || vmid > VMID_MAX) {
    throw invalidArgument(`${what} must be an integer in ${VMID_MIN}..${VMID_MAX}, got ${vmid}`);
  }
  return vmid;
}

export function checkOptionalVmid(vmid: number | null | undefined): number | null {
  return vmid === null || vmid === undefined ? null : checkVmid(vmid);
}

export function checkOp(op: string): string {
  if (typeof op !== "string" || op.length > 64 || !OP_NAME.test(op)) {
    throw invalidArgument(
      `operation name must look like noun.verb (e.g. guest.snapshot), got ${JSON.stringify(op)}`,
    );
  }
  return op;
}

export function checkOrigin(origin: string): Origin {
  if (!(ORIGINS as readonly string[]).includes(origin)) {
    throw invalidArgument(
      `origin must be one of ${ORIGINS.join(", ")}, got ${JSON.stringify(origin)}`,
    );
  }
  return origin as Origin;
}

/** A non-empty single-line string of bounded length (ids, actors, kinds, sources). */
export function checkText(value: string, what: string, max = 256): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw invalidArgument(`${what} must be a non-empty string of at most ${max} characters`);
  }
  if (hasControlCharacter(value)) {
    throw invalidArgument(`${what} must not contain control characters`);
  }
  return value;
}

export function checkOptionalText(
  value: string | null | undefined,
  what: string,
  max = 256,
): string | null {
  return value === null || value === undefined ? null : checkText(value, what, max);
}

export function checkLimit(limit: number, max = 10_000): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw invalidArgument(`limit must be an integer in 1..${max}, got ${limit}`);
  }
  return limit;
}

export function checkTimestamp(ms: number, what: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw invalidArgument(`${what} must be a non-negative integer of milliseconds since the epoch`);
  }
  return ms;
}

export function parseJsonColumn(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
