import { type Backoff, backoffDelayMs } from "../util/backoff.ts";

export interface PollTiming {
  intervalMs: number;
  /** 0..100: each wait is spread by ± this share of itself, so hosts do not poll in step. */
  jitterPct: number;
  backoffMaxMs: number;
}

/** Healthy polling: the interval itself, spread ± `jitterPct` %, never capped by the back-off. */
export function healthyPoll(t: PollTiming): Backoff {
  return {
    baseMs: t.intervalMs,
    factor: 1,
    capMs: Number.POSITIVE_INFINITY,
    jitter: { kind: "spread", pct: t.jitterPct },
  };
}

/**
 * Polling after failed cycles: the interval doubled per consecutive failure, capped at
 * `backoffMaxMs` (jitter included) — a hub outage costs each host a few requests per cap
 * period, and a fleet does not reconnect in one burst.
 */
export function outagePoll(t: PollTiming): Backoff {
  return {
    baseMs: t.intervalMs,
    factor: 2,
    capMs: t.backoffMaxMs,
    jitter: { kind: "spread", pct: t.jitterPct },
  };
}

/** How long to wait before the next poll after `failures` consecutive failed cycles. */
export function nextPollDelay(t: PollTiming, failures: number, random: () => number): number {
  return failures <= 0
    ? backoffDelayMs(healthyPoll(t), 0, random)
    : backoffDelayMs(outagePoll(t), failures, random);
}
