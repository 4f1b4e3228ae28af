export interface PollTiming {
  intervalMs: number;
  /** 0..100: each wait is spread by ± this share of itself, so hosts do not poll in step. */
  jitterPct: number;
  backoffMaxMs: number;
}

/**
 * How long to wait before the next poll. Healthy: the interval, jittered. After `failures`
 * consecutive failed cycles: the interval doubled per failure, capped, jittered — a hub outage
 * costs each host a few requests per cap period, and a fleet does not reconnect in one burst.
 */
export function nextPollDelay(t: PollTiming, failures: number, random: () => number): number {
  const base =
    failures <= 0
      ? t.intervalMs
      : Math.min(t.backoffMaxMs, t.intervalMs * 2 ** Math.min(failures, 30));
  const spread = (t.jitterPct / 100) * base;
  const delay = base - spread + random() * 2 * spread;
  return Math.max(
    0,
    Math.min(Math.round(delay), failures <= 0 ? Math.round(base + spread) : t.backoffMaxMs),
  );
}
