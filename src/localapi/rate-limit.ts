import type { Clock } from "../util/clock.ts";

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one more request would be allowed (for Retry-After). */
  retryAfterSec: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per key: `burst` requests at once, refilled at `perMinute`. Idle buckets are
 * dropped once full again, so the map holds only recently active tokens.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly clock: Clock,
    perMinute: number,
    private readonly burst: number,
  ) {
    if (!(perMinute > 0) || !(burst >= 1)) throw new RangeError("rate limit must be positive");
    this.perMs = perMinute / 60_000;
  }

  take(key: string): RateDecision {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    const elapsed = Math.max(0, now - b.at);
    b.tokens = Math.min(this.burst, b.tokens + elapsed * this.perMs);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      this.sweep(now);
      return { allowed: true, retryAfterSec: 0 };
    }
    this.buckets.set(key, b);
    return {
      allowed: false,
      retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)),
    };
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    if (this.buckets.size < 1024) return;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(k);
    }
  }
}
