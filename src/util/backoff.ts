/**
 * The one back-off formula of the agent. Every wait that grows after a failure (Proxmox read
 * retries, quick re-sends of a refused POST, reconcile action retries, hub polling after an
 * outage, task polling) is a named `Backoff` or `RetryPolicy` at its place of use, computed
 * here. Randomness is injected, so a test pins a schedule with a fixed source. The policies
 * and their schedules are listed in docs/architecture.md#back-off-and-retries.
 */

/**
 * How a delay is spread so that many hosts, or many retries on one host, do not act in step.
 * - `none`: the delay itself (not rounded: task polling sleeps fractional milliseconds).
 * - `full`: uniform in [0, delay), whole milliseconds rounded down ("full jitter").
 * - `spread`: uniform in delay ± `pct` % of itself, rounded to whole milliseconds.
 */
export type Jitter = { kind: "none" } | { kind: "full" } | { kind: "spread"; pct: number };

export interface Backoff {
  /** The delay before the first retry (`n` = 0). 0 means no waiting at all. */
  baseMs: number;
  /** Growth per further retry: 2 doubles, 1 keeps the delay constant. */
  factor: number;
  /** No delay is above this, jitter included; `Infinity` leaves it uncapped. */
  capMs: number;
  jitter: Jitter;
}

/** A bounded back-off: how many tries in all, and how long to wait between them. */
export interface RetryPolicy extends Backoff {
  /** Total attempts, the first included; 1 disables retries. */
  attempts: number;
}

export const NO_JITTER: Jitter = { kind: "none" };
export const FULL_JITTER: Jitter = { kind: "full" };

/** The un-jittered delay before retry `n` (0-based): min(cap, base·factorⁿ), never negative. */
export function backoffCeilingMs(b: Omit<Backoff, "jitter">, n: number): number {
  if (!(b.baseMs > 0)) return 0;
  const raw = b.baseMs * b.factor ** Math.max(0, n);
  // A huge `n` overflows to Infinity; the cap still holds (and is Infinity when uncapped).
  return Number.isFinite(raw) ? Math.min(b.capMs, raw) : b.capMs;
}

/**
 * The delay before retry `n` (0-based), jittered by `random` ∈ [0, 1). Never negative and
 * never above `capMs`; with `none` jitter it does not decrease as `n` grows (factor ≥ 1).
 */
export function backoffDelayMs(b: Backoff, n: number, random: () => number): number {
  const d = backoffCeilingMs(b, n);
  // Only an uncapped back-off grows past every number; there is nothing left to spread.
  if (!Number.isFinite(d)) return d;
  switch (b.jitter.kind) {
    case "none":
      return d;
    case "full":
      return Math.min(b.capMs, Math.max(0, Math.floor(random() * d)));
    case "spread": {
      const spread = (b.jitter.pct / 100) * d;
      const delay = Math.round(d - spread + random() * 2 * spread);
      return Math.max(0, Math.min(b.capMs, delay));
    }
  }
}

/**
 * A fixed table of delays for retry `n` (0-based); past its end the last entry repeats. For a
 * schedule chosen by hand rather than grown by a factor.
 */
export function stepDelayMs(steps: readonly [number, ...number[]], n: number): number {
  return steps[Math.min(Math.max(0, n), steps.length - 1)] as number;
}
