import { targetOf } from "../gate/actor.ts";
import type { Logger } from "../log/types.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import type { Slot } from "./guest-queue.ts";

/** A task waited on past the hang deadline: its guest stays busy, its slot is given up. */
export interface HungTask {
  journalId: number;
  op: string;
  vmid: number | null;
  upid: string;
  /** Our clock, when the wait began. */
  sinceMs: number;
}

export interface HangWatchDeps {
  clock: Clock;
  logger: Logger;
  audit: Pick<Store["audit"], "append">;
  /** How long a wait may hold its global slot. */
  afterMs: number;
}

/**
 * Watches task waits: past `afterMs` a wait gives up its global concurrency slot, so other
 * guests proceed while this one stays busy, and the hang is logged and audited once and listed
 * until the wait ends (docs/reconcile.md#hung-tasks). The task itself is left alone.
 */
export class HangWatch {
  private readonly hung = new Map<number, HungTask>();

  constructor(private readonly deps: HangWatchDeps) {}

  list(): HungTask[] {
    return [...this.hung.values()].map((h) => ({ ...h }));
  }

  /** Starts watching one wait; call the returned function when the wait ends, however. */
  watch(slot: Slot, task: Omit<HungTask, "sinceMs">): () => void {
    const { clock, afterMs } = this.deps;
    const sinceMs = clock.now();
    const ended = new AbortController();
    void clock.sleep(afterMs, ended.signal).then(
      () => {
        if (!ended.signal.aborted) this.hang(slot, { ...task, sinceMs });
      },
      () => {},
    );
    return () => {
      ended.abort();
      if (this.hung.delete(task.journalId)) {
        this.deps.logger.info("hung task ended", { journal: task.journalId, upid: task.upid });
      }
    };
  }

  private hang(slot: Slot, task: HungTask): void {
    const { logger, audit, afterMs } = this.deps;
    slot.release();
    this.hung.set(task.journalId, task);
    const waited_s = Math.round(afterMs / 1000);
    logger.warn("task hung: its concurrency slot is given to other guests", {
      journal: task.journalId,
      op: task.op,
      vmid: task.vmid,
      upid: task.upid,
      waited_s,
    });
    try {
      audit.append({
        actor: "agent",
        action: task.op,
        target: targetOf(task.vmid),
        outcome: "hung",
        details: { journal: task.journalId, upid: task.upid, waited_s },
      });
    } catch (err) {
      logger.error("could not audit a hung task", { journal: task.journalId, error: err });
    }
  }
}
