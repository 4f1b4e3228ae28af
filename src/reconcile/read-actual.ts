import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { ActualGuest, ActualHostState } from "./actual-state.ts";
import { type DesiredHostState, needsConfig } from "./desired-state.ts";
import { mapBounded } from "./map-bounded.ts";

export interface ReadActualOptions {
  /** Parallel config reads. */
  concurrency: number;
  signal?: AbortSignal;
}

export interface ReadActualResult {
  actual: ActualHostState;
  /** Config reads made (the list is always one call). */
  configReads: number;
  configFailures: number;
}

/**
 * One list call for every guest's run state, then a config read only for guests whose desired
 * state names cores, memory or description. A config that cannot be read leaves the guest's run
 * state usable and its spec checks skipped; it does not fail the pass.
 */
export async function readActualState(
  client: Pick<ProxmoxClient, "listLXC" | "guestConfig">,
  desired: DesiredHostState | undefined,
  opts: ReadActualOptions,
): Promise<ReadActualResult> {
  const list = await client.listLXC(opts.signal ? { signal: opts.signal } : undefined);
  const guests = new Map<number, ActualGuest>();
  for (const s of list) {
    guests.set(s.vmid, {
      vmid: s.vmid,
      status: s.status,
      template: s.template,
      ...(s.lock ? { lock: s.lock } : {}),
    });
  }
  const unreadable = new Map<number, string>();
  for (const p of list.problems ?? []) {
    if (p.outcome === "dropped" && p.vmid !== undefined && !guests.has(p.vmid)) {
      unreadable.set(p.vmid, `unreadable fields: ${p.fields.join(", ")}`);
    }
  }
  const wanted = desired
    ? [...desired.guests.values()].filter((d) => needsConfig(d) && guests.has(d.vmid))
    : [];
  let failures = 0;
  await mapBounded(wanted, opts.concurrency, async (d) => {
    const guest = guests.get(d.vmid) as ActualGuest;
    try {
      const cfg = await client.guestConfig(d.vmid, opts.signal ? { signal: opts.signal } : {});
      guest.config = {
        ...(cfg.cores !== undefined ? { cores: cfg.cores } : {}),
        ...(cfg.memoryMiB !== undefined ? { memoryMiB: cfg.memoryMiB } : {}),
        ...(cfg.description !== undefined ? { description: cfg.description } : {}),
      };
      if (cfg.lock && guest.lock === undefined) guest.lock = cfg.lock;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      failures++;
      guest.configError = (err as Error).message;
    }
  });
  return {
    actual: { guests, ...(unreadable.size > 0 ? { unreadable } : {}) },
    configReads: wanted.length,
    configFailures: failures,
  };
}
