export type Lane = "interactive" | "background";

/** Host-level operations (no guest) share one key, so they are serial too. */
export const HOST_KEY = "host";
export type QueueKey = number | typeof HOST_KEY;

export class QueueClosedError extends Error {
  override readonly name = "QueueClosedError";
  constructor() {
    super("the operation queue is shutting down; the operation was not started");
  }
}

/**
 * A running item's hold on the global concurrency. Releasing it lets other guests proceed
 * while this item goes on; its guest stays busy until it ends (docs/reconcile.md#hung-tasks).
 */
export interface Slot {
  release(): void;
  readonly released: boolean;
}

interface Item {
  seq: number;
  key: QueueKey;
  lane: Lane;
  run: (slot: Slot) => Promise<void>;
  cancel: (err: Error) => void;
}

/**
 * One mutation per guest at a time, at most `concurrency` at once across guests, and a
 * priority lane: an interactive item (local API, operator) starts before any background
 * (reconcile) item that is waiting, for its own guest and for a free global slot. Nothing is
 * preempted once started; an item waiting on something slow may give up its global slot.
 */
export class GuestQueue {
  private readonly waiting: Item[] = [];
  private readonly active = new Set<QueueKey>();
  private running = 0;
  private seq = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`queue concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** Runs `fn` when its guest and a global slot are free; settles with its result. */
  run<T>(key: QueueKey, lane: Lane, fn: (slot: Slot) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        seq: this.seq++,
        key,
        lane,
        run: (slot) => fn(slot).then(resolve, reject),
        cancel: reject,
      });
      this.dispatch();
    });
  }

  /** Guests with work queued or running: the planner leaves them alone this pass. */
  busyGuests(): Set<number> {
    const out = new Set<number>();
    for (const k of this.active) if (typeof k === "number") out.add(k);
    for (const i of this.waiting) if (typeof i.key === "number") out.add(i.key);
    return out;
  }

  /** `running` holds a global slot; `released` runs on without one. */
  get size(): { waiting: number; running: number; released: number } {
    return {
      waiting: this.waiting.length,
      running: this.running,
      released: this.active.size - this.running,
    };
  }

  /** Stops starting work: everything still waiting is rejected with QueueClosedError. */
  close(): void {
    this.closed = true;
    for (const item of this.waiting.splice(0)) item.cancel(new QueueClosedError());
    this.notifyIdle();
  }

  /** Resolves once nothing is running (with or without a slot) or waiting. */
  idle(): Promise<void> {
    if (this.active.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private dispatch(): void {
    while (this.running < this.concurrency) {
      const item = this.pick();
      if (!item) break;
      this.waiting.splice(this.waiting.indexOf(item), 1);
      this.active.add(item.key);
      this.running++;
      let released = false;
      const slot: Slot = {
        release: () => {
          if (released) return;
          released = true;
          this.running--;
          this.dispatch();
        },
        get released() {
          return released;
        },
      };
      void item.run(slot).finally(() => {
        this.active.delete(item.key);
        if (!released) this.running--;
        released = true;
        this.dispatch();
        this.notifyIdle();
      });
    }
  }

  private pick(): Item | undefined {
    let background: Item | undefined;
    for (const item of this.waiting) {
      if (this.active.has(item.key)) continue;
      if (item.lane === "interactive") return item;
      background ??= item;
    }
    return background;
  }

  private notifyIdle(): void {
    if (this.active.size !== 0 || this.waiting.length !== 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
