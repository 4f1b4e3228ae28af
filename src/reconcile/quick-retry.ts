import { ProxmoxApiError } from "../proxmox/api-error.ts";

/** The quick re-sends of a refused request before the slow back-off (docs/reconcile.md). */
export interface QuickRetryPolicy {
  /** Re-sends after the first refusal; 0 turns them off. */
  retries: number;
  /** The first delay; each next one doubles. Every delay is jittered ±50 %. */
  baseMs: number;
}

export const defaultQuickRetry: QuickRetryPolicy = { retries: 3, baseMs: 1000 };

/**
 * A refusal that says the request did not run and may well succeed in a moment: a 5xx that
 * pveproxy answered itself (the handler died before forking a worker,
 * docs/proxmox-behaviour.md#refusals-that-did-not-run), or a 595 (pveproxy could not even
 * connect to pvedaemon). A guest that does not exist or a held lock is not transient here;
 * 596–599 and lost connections are not refusals at all: the request may have run, and only
 * the task-list search may decide (docs/reconcile.md#lost-answers).
 */
export function isTransientRefusal(err: unknown): boolean {
  return err instanceof ProxmoxApiError && (err.kind === "server" || err.status === 595);
}

/** Delay before re-send `n` (0-based): baseMs·2ⁿ, jittered by `random` ∈ [0, 1). */
export function quickRetryDelayMs(
  n: number,
  policy: QuickRetryPolicy,
  random: () => number,
): number {
  return Math.round(policy.baseMs * 2 ** n * (0.5 + random()));
}
