import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { Clock } from "../util/clock.ts";

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

export interface QuickRetryDeps {
  policy: QuickRetryPolicy;
  random: () => number;
  clock: Pick<Clock, "sleep">;
  /** The agent is stopping: no further re-send. */
  signal: AbortSignal;
  /** A refusal that is an answer, not a failure (`already running`): never re-sent. */
  settles(err: unknown): boolean;
  onRetry(err: unknown, retry: number, delayMs: number): void;
}

export type QuickRetryOutcome<T> =
  | { kind: "sent"; value: T }
  | { kind: "failed"; error: unknown }
  /** Stopped while pausing between re-sends: nothing ran. */
  | { kind: "stopped" };

/** Sends, and re-sends a transient refusal on the quick schedule (docs/reconcile.md). */
export async function sendWithQuickRetry<T>(
  send: () => Promise<T>,
  deps: QuickRetryDeps,
): Promise<QuickRetryOutcome<T>> {
  for (let n = 0; ; n++) {
    try {
      return { kind: "sent", value: await send() };
    } catch (error) {
      const again =
        n < deps.policy.retries &&
        !deps.signal.aborted &&
        !deps.settles(error) &&
        isTransientRefusal(error);
      if (!again) return { kind: "failed", error };
      const delayMs = quickRetryDelayMs(n, deps.policy, deps.random);
      deps.onRetry(error, n + 1, delayMs);
      await deps.clock.sleep(delayMs, deps.signal).catch(() => {});
      if (deps.signal.aborted) return { kind: "stopped" };
    }
  }
}
