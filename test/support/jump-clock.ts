import type { Clock } from "../../src/util/clock.ts";

/**
 * Our clock, able to jump ahead: `now()` is real time plus every jump so far, and a sleep ends
 * at its instant, whether real time or a jump gets there first. Lets a test pass a 60 s window
 * without waiting for it, while the simulator and the network run in real time. Tests that
 * need no real time use ManualClock (manual-clock.ts).
 */
export class JumpClock implements Clock {
  private skipped = 0;
  private readonly sleepers = new Set<{ at: number; ms: number; wake: () => void }>();

  now(): number {
    return Date.now() + this.skipped;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const sleeper = { at: this.now() + ms, ms, wake: () => done() };
      const timer = setTimeout(() => done(), ms);
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const finish = () => {
        clearTimeout(timer);
        this.sleepers.delete(sleeper);
        signal?.removeEventListener("abort", onAbort);
      };
      const done = () => {
        finish();
        resolve();
      };
      this.sleepers.add(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Whether someone is sleeping for exactly `ms` right now (to jump only once they are). */
  sleeping(ms: number): boolean {
    for (const s of this.sleepers) if (s.ms === ms) return true;
    return false;
  }

  jump(ms: number): void {
    this.skipped += ms;
    for (const s of [...this.sleepers]) if (s.at <= this.now()) s.wake();
  }
}
