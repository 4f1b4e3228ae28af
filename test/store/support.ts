import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OpenStoreOptions, openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import type { Clock } from "../../src/util/clock.ts";

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
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

/** A temporary state dir; `cleanup()` closes every store opened through it and removes it. */
export class TempStateDir {
  readonly dir = mkdtempSync(join(tmpdir(), "felhom-store-"));
  readonly clock = new ManualClock();
  private readonly opened: Store[] = [];

  get dbPath(): string {
    return join(this.dir, "state.db");
  }

  open(options: Partial<OpenStoreOptions> = {}): Store {
    const store = openStore({ path: this.dbPath, clock: this.clock, ...options });
    this.opened.push(store);
    return store;
  }

  cleanup(): void {
    for (const s of this.opened) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `fn` and returns the error it threw (fails the test when it does not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw");
}
