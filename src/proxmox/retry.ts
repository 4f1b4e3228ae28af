import { backoffDelayMs, FULL_JITTER, type RetryPolicy } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";

/**
 * Idempotent Proxmox requests that failed transiently: 3 tries, full-jitter waits below
 * 200 ms, then 400 ms, capped at 2 s — short enough that a read answers within seconds,
 * random enough that several agents retrying against one host do not stampede.
 */
export const proxmoxRequestRetry: RetryPolicy = {
  attempts: 3,
  baseMs: 200,
  factor: 2,
  capMs: 2000,
  jitter: FULL_JITTER,
};

export interface RetryDeps {
  clock: Clock;
  signal?: AbortSignal;
  /** Returns a number in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
  shouldRetry: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, `shouldRetry` says no, or attempts run out, waiting between
 * tries as `policy` says.
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
      const delay = backoffDelayMs(policy, attempt - 1, random);
      deps.onRetry?.(err, attempt, delay);
      await deps.clock.sleep(delay, deps.signal);
    }
  }
}
