import type { Clock } from "../../src/util/clock.ts";

/** 2026-06-01T12:00:00Z: a fixed start, so tests that print or compare dates are repeatable. */
export const MANUAL_CLOCK_START = Date.UTC(2026, 5, 1, 12, 0, 0);

/**
 * The tests' clock: time moves only when told to (`advance`, or by assigning `t`), and a sleep
 * returns at once having moved time forward by its length, so a test never waits on the wall
 * clock. Every sleep is recorded in `sleeps` for tests of back-off schedules. A sleep honours
 * its signal like the system clock does: already aborted, it rejects with the signal's reason.
 */
export class ManualClock implements Clock {
  readonly sleeps: number[] = [];

  constructor(public t = MANUAL_CLOCK_START) {}

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.t += ms;
    // One turn of the microtask queue, as a real sleep would yield, then an abort that came
    // while "sleeping" wins, as with the system clock.
    await Promise.resolve();
    if (signal?.aborted) throw signal.reason;
  }
}
