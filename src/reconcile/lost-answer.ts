import type { Journal } from "../store/journal.ts";
import type { Clock } from "../util/clock.ts";
import { type ClockOffset, type ClockOffsetSource, nodeClockOffset } from "./clock-offset.ts";
import {
  type LostAnswerRules,
  type RecoveryJournal,
  type Resolution,
  type ResolveClient,
  resolveInFlight,
} from "./resolve-in-flight.ts";

export interface LostAnswerDeps {
  client: ResolveClient;
  /** Recovery's journal writes plus `byId`: the engine passes the identity-keeping one. */
  journal: Pick<Journal, "byId"> & RecoveryJournal;
  clock: Clock;
  /** How long after the intent a task may still appear (docs/reconcile.md#lost-answers). */
  windowMs: number;
  /** Between two looks at the task list while the answer is unknown. */
  pollMs: number;
  /** Knows the node's clock offset already; without it (or an answer) it is measured. */
  offsetSource?: ClockOffsetSource;
}

/** The rules for one search; the node's clock offset is measured once per search. */
export function lostAnswerRules(deps: LostAnswerDeps): LostAnswerRules {
  let offset: Promise<ClockOffset> | undefined;
  return {
    now: () => deps.clock.now(),
    windowMs: deps.windowMs,
    offset: () => {
      offset ??= nodeClockOffset(deps.offsetSource, deps.client, deps.clock).catch((err) => {
        offset = undefined;
        throw err;
      });
      return offset;
    },
  };
}

export type LostAnswerOutcome =
  | Exclude<Resolution, { kind: "unknown" }>
  /** Proxmox could not be read until the window closed: the entry stays in flight. */
  | { kind: "unreachable"; entryId: number; error: unknown }
  /** The agent is stopping: the entry stays in flight, and the next start looks again. */
  | { kind: "stopped"; entryId: number };

/**
 * Looks at the task list again and again until the entry is settled: its task is found, or
 * the window has passed and the guest's state decided it (docs/reconcile.md#lost-answers).
 * Never re-sends anything.
 */
export async function awaitLostAnswer(
  deps: LostAnswerDeps,
  entryId: number,
  label: string,
  signal: AbortSignal,
): Promise<LostAnswerOutcome> {
  const rules = lostAnswerRules(deps);
  for (;;) {
    const entry = deps.journal.byId(entryId);
    if (entry === undefined) throw new Error(`journal entry ${entryId} is gone`);
    try {
      const r = await resolveInFlight(deps.client, deps.journal, entry, label, rules);
      if (r.kind !== "unknown") return r;
    } catch (error) {
      if (deps.clock.now() >= entry.createdAt + deps.windowMs) {
        return { kind: "unreachable", entryId, error };
      }
    }
    if (signal.aborted) return { kind: "stopped", entryId };
    await deps.clock.sleep(deps.pollMs, signal).catch(() => {});
    if (signal.aborted) return { kind: "stopped", entryId };
  }
}
