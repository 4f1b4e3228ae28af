import { isOpName, type OperationStatus } from "../ops/types.ts";
import type { JournalEntry } from "../store/journal.ts";
import type { PendingOp } from "../store/pending.ts";

/**
 * Operation ids are durable: they name a row of the store, so `status(id)` answers after a
 * restart (the local API's `GET /v1/self/operations/{id}`, hub job results).
 * - `op-<journal id>`: an operation that was let through and journaled when it was submitted.
 * - `po-<hex>`: the store's id of an operation held as `pending_signature`; once a signature
 *   releases it, the same id follows the journal entry of its execution.
 * - `rj-<time>-<n>`: refused before anything was recorded (bad params, a failed signature);
 *   known to this process only.
 */
export type ParsedOperationId =
  | { kind: "journal"; journalId: number }
  | { kind: "pending"; pendingId: string }
  | { kind: "transient" };

const JOURNAL_ID = /^op-([1-9]\d{0,15})$/;
const PENDING_ID = /^po-[0-9a-f]{1,32}$/;

export function journalOperationId(journalId: number): string {
  return `op-${journalId}`;
}

export function parseOperationId(id: string): ParsedOperationId | undefined {
  const j = JOURNAL_ID.exec(id);
  if (j) return { kind: "journal", journalId: Number(j[1]) };
  if (PENDING_ID.test(id)) return { kind: "pending", pendingId: id };
  if (id.startsWith("rj-")) return { kind: "transient" };
  return undefined;
}

/** Appended to a `done` entry's resolution, so the result outlives the process. */
const RESULT_MARK = "; result=";

export function resolutionWithResult(how: string, result?: Record<string, unknown>): string {
  if (result === undefined || Object.keys(result).length === 0) return how.slice(0, 1024);
  const suffix = `${RESULT_MARK}${JSON.stringify(result)}`;
  // The result is what the requester needs; the narrative gives way when space runs out.
  return `${how.slice(0, Math.max(0, 1024 - suffix.length))}${suffix}`.slice(0, 1024);
}

export function resultFromResolution(
  resolution: string | null,
): Record<string, unknown> | undefined {
  if (resolution === null) return undefined;
  const at = resolution.lastIndexOf(RESULT_MARK);
  if (at < 0) return undefined;
  try {
    const value: unknown = JSON.parse(resolution.slice(at + RESULT_MARK.length));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function failureReason(entry: JournalEntry): string {
  const err = entry.error as { cause?: unknown; message?: unknown } | null | undefined;
  const cause = typeof err?.cause === "string" ? err.cause : "failed";
  const message = typeof err?.message === "string" ? err.message : undefined;
  return message ? `${cause}: ${message}` : cause;
}

/** The status a journal entry stands for; `id` is the id it was asked by. */
export function statusFromJournal(entry: JournalEntry, id: string): OperationStatus | undefined {
  if (!isOpName(entry.op)) return undefined;
  const base = {
    id,
    op: entry.op,
    ...(entry.vmid !== null ? { vmid: entry.vmid } : {}),
    ...(entry.upid !== null ? { upid: entry.upid } : {}),
    createdAt: new Date(entry.createdAt).toISOString(),
    updatedAt: new Date(entry.updatedAt).toISOString(),
  };
  switch (entry.phase) {
    case "intent":
      return { ...base, state: "queued" };
    case "posted":
      return { ...base, state: "running" };
    case "done": {
      const result = resultFromResolution(entry.resolution);
      return { ...base, state: "done", ...(result ? { result } : {}) };
    }
    case "failed":
      return { ...base, state: "failed", reason: failureReason(entry) };
    case "abandoned":
      return {
        ...base,
        state: "failed",
        reason: `abandoned: ${entry.resolution ?? "no result could be known"}`,
      };
  }
}

/** A held operation's status; a released one is answered from its journal entry instead. */
export function statusFromPending(row: PendingOp): OperationStatus | undefined {
  if (!isOpName(row.op)) return undefined;
  const base = {
    id: row.id,
    op: row.op,
    ...(row.vmid !== null ? { vmid: row.vmid } : {}),
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
  switch (row.status) {
    case "pending":
      return {
        ...base,
        state: "pending_signature",
        ...(row.reason !== null ? { reason: row.reason } : {}),
      };
    case "released":
      // The caller follows `journalId`; without one the release is all that is known.
      return { ...base, state: "queued", reason: "released by a valid signature" };
    case "rejected":
      return { ...base, state: "rejected", reason: row.resolution ?? "rejected" };
    case "expired":
      return { ...base, state: "rejected", reason: `expired: ${row.resolution ?? "unsigned"}` };
  }
}
