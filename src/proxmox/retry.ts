import type { Clock } from "../util/clock.ts";

export interface RetryPolicy {
  /** Total attempts, the first included. 1 disables retries. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2000 };

export interface RetryDeps {
  clock: Clock;
  signal?: AbortSignal;
  /** Returns a number in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
  shouldRetry: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, `shouldRetry` says no, or attempts run out. Full-jitter
 * exponential backoff, so that several agents retrying against one host do not stampede.
 * Callers must only use it for idempotent requests: a 59x on a POST does not say whether the
 * worker started (docs/proxmox-behaviour.md#api-envelope-and-errors).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  deps: RetryDeps,
): Promise<T> {
  const random = deps.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || deps.signal?.aborted || !deps.shouldRetry(err)) throw err;
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.floor(random() * cap);
      deps.onRetry?.(err, attempt, delay);
      await deps.clock.sleep(delay, deps.signal);
    }
  }
}
