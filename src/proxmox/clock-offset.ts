/**
 * The Proxmox host's clock against ours, from the `Date` header pveproxy puts on every answer
 * (docs/proxmox-behaviour.md#date-header-clock-offset).
 */
export interface ClockOffsetEstimate {
  /** Proxmox's clock minus the local clock, in ms: Proxmox time ≈ local time + offsetMs. */
  offsetMs: number;
  /** The true offset lies within offsetMs ± uncertaintyMs. */
  uncertaintyMs: number;
  /** Local time (ms) of the newest answer the estimate uses. */
  sampledAt: number;
  /** Answers the estimate combines. */
  samples: number;
}

export interface ClockOffsetTracker {
  /**
   * One answer: its `Date` header (null when absent), the local time the request was sent and
   * the local time its header arrived. An absent or unparsable header is ignored.
   */
  record(dateHeader: string | null, sentAt: number, receivedAt: number): void;
  estimate(): ClockOffsetEstimate | undefined;
}

export interface ClockOffsetOptions {
  /** Samples older than this (local ms) no longer narrow the estimate; default 10 min. */
  maxAgeMs?: number;
}

interface Bounds {
  low: number;
  high: number;
  at: number;
}

const DATE_RESOLUTION_MS = 1000;

/**
 * Each answer bounds the offset: Proxmox stamped its `Date` (whole seconds, rounded down)
 * between our send and receive, so the offset is within
 * [date − receivedAt, date + 1 s − sentAt]. Answers are intersected while they agree; one that
 * does not (either clock was stepped) starts the estimate again from itself.
 */
export function createClockOffsetTracker(opts: ClockOffsetOptions = {}): ClockOffsetTracker {
  const maxAgeMs = opts.maxAgeMs ?? 600_000;
  let window: Bounds | undefined;
  let firstAt = 0;
  let samples = 0;

  return {
    record(dateHeader, sentAt, receivedAt) {
      if (dateHeader === null || receivedAt < sentAt) return;
      const date = Date.parse(dateHeader);
      if (!Number.isFinite(date)) return;
      const low = date - receivedAt;
      const high = date + DATE_RESOLUTION_MS - sentAt;
      const stale = window === undefined || receivedAt - firstAt > maxAgeMs;
      const merged =
        window && !stale
          ? { low: Math.max(window.low, low), high: Math.min(window.high, high), at: receivedAt }
          : undefined;
      if (merged && merged.low <= merged.high) {
        window = merged;
        samples++;
      } else {
        window = { low, high, at: receivedAt };
        firstAt = receivedAt;
        samples = 1;
      }
    },
    estimate() {
      if (!window) return undefined;
      return {
        offsetMs: Math.round((window.low + window.high) / 2),
        uncertaintyMs: Math.ceil((window.high - window.low) / 2),
        sampledAt: window.at,
        samples,
      };
    },
  };
}
