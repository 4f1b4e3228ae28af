import type { Clock } from "../../src/util/clock.ts";

/** A clock that only moves when told to; sleeping moves it forward at once. */
export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2026, 5, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.t += ms;
    return Promise.resolve();
  }
}
