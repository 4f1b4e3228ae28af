import type { AuditRow } from "../store/audit.ts";

/**
 * What the hub link needs from the state store, as narrow structural interfaces: the store's
 * DesiredCache, Outbox and AuditLog satisfy them as they are, and tests can pass either those
 * (SQLite in a temp dir) or small fakes.
 */
export interface DesiredCachePort {
  get(): { document: string; etag: string | null; receivedAt: number } | undefined;
  put(input: { document: string; source: string; etag?: string | null }): unknown;
}

export interface OutboxPort {
  enqueue(kind: string, body: unknown): { id: number; dropped: number };
  peek(n?: number): Array<{ id: number; kind: string; body: unknown; createdAt: number }>;
  ack(ids: readonly number[]): number;
}

export type AuditRowPort = AuditRow;

export interface AuditFeedPort {
  undelivered(limit?: number): AuditRowPort[];
  markDelivered(uptoSeq: number): void;
  /** The chain's recorded head, carried in each status report. */
  head(): { seq: number; hash: string };
  /** Drops acknowledged rows older than `olderThanTs`, keeping an anchor (AuditLog.prune). */
  prune?(options: { olderThanTs: number }): { pruned: number; anchorSeq: number };
}

/** Outbox kinds the link writes; `job_result` and `audit` are never dropped by the store. */
export const OUTBOX_KIND_TELEMETRY = "telemetry";
export const OUTBOX_KIND_JOB_RESULT = "job_result";
