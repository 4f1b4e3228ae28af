import { ProxmoxApiError } from "../proxmox/api-error.ts";
import { backoffDelayMs, type RetryPolicy } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";

/**
 * The quick re-sends of a refused request before the slow back-off (docs/reconcile.md):
 * `resends` after the first refusal (0 turns them off), about 1, 2, 4 s, each jittered ±50 %
 * and uncapped — the reconciler's own back-off takes over after the last.
 */
export function quickResend(resends: number): RetryPolicy {
  return {
    attempts: resends + 1,
    baseMs: 1000,
    factor: 2,
    capMs: Number.POSITIVE_INFINITY,
    jitter: { kind: "spread", pct: 50 },
  };
}

export const defaultQuickRetry: RetryPolicy = quickResend(3);

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

export interface QuickRetryDeps {
  policy: RetryPolicy;
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
        n + 1 < deps.policy.attempts &&
        !deps.signal.aborted &&
        !deps.settles(error) &&
        isTransientRefusal(error);
      if (!again) return { kind: "failed", error };
      const delayMs = backoffDelayMs(deps.policy, n, deps.random);
      deps.onRetry(error, n + 1, delayMs);
      await deps.clock.sleep(delayMs, deps.signal).catch(() => {});
      if (deps.signal.aborted) return { kind: "stopped" };
    }
  }
}
