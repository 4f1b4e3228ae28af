import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Clock } from "../util/clock.ts";

/** How far the Proxmox node's clock is ahead of ours (negative: behind), and how sure we are. */
export interface ClockOffset {
  offsetMs: number;
  /** The true offset lies within `offsetMs ± uncertaintyMs`. */
  uncertaintyMs: number;
}

/** Anything that already knows the offset (the client can learn it from answers it reads). */
export interface ClockOffsetSource {
  clockOffset(): ClockOffset | undefined;
}

/**
 * What is assumed when the node's clock cannot be read (the token lacks Sys.Audit on the
 * node): the clocks agree within 2 s.
 */
export const ASSUMED_OFFSET: ClockOffset = Object.freeze({ offsetMs: 0, uncertaintyMs: 2000 });

/**
 * One read of the node's clock between two readings of ours. The node answers whole seconds
 * (docs/proxmox-behaviour.md#node-time), so its instant lies in [time, time + 1 s); ours lies
 * between the two readings; the offset is the middle of what both allow.
 */
export async function measureNodeOffset(
  client: Pick<ProxmoxClient, "nodeTime">,
  clock: Pick<Clock, "now">,
  signal?: AbortSignal,
): Promise<ClockOffset> {
  const before = clock.now();
  const { timeSec } = await client.nodeTime(signal ? { signal } : undefined);
  const after = clock.now();
  const low = timeSec * 1000 - after;
  const high = timeSec * 1000 + 999 - before;
  return { offsetMs: Math.round((low + high) / 2), uncertaintyMs: Math.ceil((high - low) / 2) };
}

/**
 * The offset to match task start times with: from `source` when it has one, else measured.
 * A refused read (403) falls back to ASSUMED_OFFSET; a node that cannot be reached throws,
 * as the task list it is needed for cannot be read either.
 */
export async function nodeClockOffset(
  source: ClockOffsetSource | undefined,
  client: Pick<ProxmoxClient, "nodeTime">,
  clock: Pick<Clock, "now">,
): Promise<ClockOffset> {
  const known = source?.clockOffset();
  if (known !== undefined) return known;
  try {
    return await measureNodeOffset(client, clock);
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.kind === "forbidden") return ASSUMED_OFFSET;
    throw err;
  }
}
