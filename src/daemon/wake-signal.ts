import type { Clock } from "../util/clock.ts";

/**
 * A wake-up that is not lost: a `wake()` while nobody waits makes the next `wait` return at
 * once (a desired-state change during a pass gets its own pass right after).
 */
export class WakeSignal {
  private pending = false;
  private waiter: AbortController | undefined;

  wake(): void {
    this.pending = true;
    this.waiter?.abort();
  }

  /** Resolves after `ms`, on `wake()`, or when `signal` aborts; true when woken. */
  async wait(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.pending || signal.aborted) return this.take();
    const ctl = new AbortController();
    this.waiter = ctl;
    const onAbort = () => ctl.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await clock.sleep(ms, ctl.signal).catch(() => {});
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.waiter = undefined;
    }
    return this.take();
  }

  private take(): boolean {
    const woken = this.pending;
    this.pending = false;
    return woken;
  }
}
