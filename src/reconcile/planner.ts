import { normalizeDescription } from "../proxmox/description.ts";
import type { Action, GuestConfigParams } from "./actions.ts";
import type { ActualGuest, ActualHostState } from "./actual-state.ts";
import type { DesiredGuestSpec, DesiredHostState } from "./desired-state.ts";

/** LXC memory when the config has no `memory` key: status derives maxmem from 512 (FACTS B.8). */
export const PVE_DEFAULT_MEMORY_MIB = 512;

export type SkipReason =
  | "absent"
  | "busy"
  | "locked"
  | "template"
  | "unknown_status"
  | "config_unreadable";

export interface PlanSkip {
  vmid: number;
  reason: SkipReason;
  detail?: string;
}

export interface Plan {
  actions: Action[];
  /** Managed guests (or parts of them) left alone this pass, and why. */
  skipped: PlanSkip[];
  /** False when no desired state has ever been received: nothing may be planned. */
  haveDesired: boolean;
}

/**
 * The next batch of actions that moves actual toward desired. Pure: state in, actions out.
 * - No desired state (undefined) plans nothing (DESIGN §2.5); an empty one leaves every guest
 *   alone. Only guests named in desired state are touched, and only their named fields.
 * - A guest missing from desired state is never stopped or destroyed; a desired guest that
 *   does not exist is not created here (provisioning is its own, gated, operation).
 * - A guest with work in flight is skipped: the next pass sees the result (level-triggered).
 */
export function planActions(
  desired: DesiredHostState | undefined,
  actual: ActualHostState,
  inFlight: ReadonlySet<number>,
): Plan {
  if (desired === undefined) return { actions: [], skipped: [], haveDesired: false };
  const actions: Action[] = [];
  const skipped: PlanSkip[] = [];
  const vmids = [...desired.guests.keys()].sort((a, b) => a - b);
  for (const vmid of vmids) {
    const spec = desired.guests.get(vmid) as DesiredGuestSpec;
    const guest = actual.guests.get(vmid);
    if (guest === undefined) {
      skipped.push({ vmid, reason: "absent" });
      continue;
    }
    if (inFlight.has(vmid)) {
      skipped.push({ vmid, reason: "busy" });
      continue;
    }
    if (guest.template) {
      skipped.push({ vmid, reason: "template" });
      continue;
    }
    // A backup or snapshot holds the guest; PVE would refuse with `CT is locked` (FACTS B.5).
    if (guest.lock !== undefined) {
      skipped.push({ vmid, reason: "locked", detail: guest.lock });
      continue;
    }
    const config = planConfig(spec, guest, skipped);
    if (config) actions.push(config);
    const run = planRun(spec, guest, skipped);
    if (run) actions.push(run);
  }
  return { actions, skipped, haveDesired: true };
}

function planConfig(
  spec: DesiredGuestSpec,
  guest: ActualGuest,
  skipped: PlanSkip[],
): Action | undefined {
  const managed =
    spec.cores !== undefined || spec.memoryMiB !== undefined || spec.description !== undefined;
  if (!managed) return undefined;
  const config = guest.config;
  if (config === undefined) {
    skipped.push({
      vmid: spec.vmid,
      reason: "config_unreadable",
      ...(guest.configError ? { detail: guest.configError } : {}),
    });
    return undefined;
  }
  const params: GuestConfigParams = {};
  const why: string[] = [];
  if (spec.cores !== undefined && spec.cores !== config.cores) {
    params.cores = spec.cores;
    why.push(`cores ${config.cores ?? "unset"} -> ${spec.cores}`);
  }
  const memoryNow = config.memoryMiB ?? PVE_DEFAULT_MEMORY_MIB;
  if (spec.memoryMiB !== undefined && spec.memoryMiB !== memoryNow) {
    params.memoryMiB = spec.memoryMiB;
    why.push(`memory ${memoryNow} MiB -> ${spec.memoryMiB} MiB`);
  }
  // PVE reads a description back with a newline after every line (FACTS B.9).
  if (
    spec.description !== undefined &&
    normalizeDescription(spec.description) !== normalizeDescription(config.description)
  ) {
    params.description = normalizeDescription(spec.description);
    why.push("description differs");
  }
  if (why.length === 0) return undefined;
  return { op: "guest.config", vmid: spec.vmid, params, reason: why.join(", ") };
}

function planRun(
  spec: DesiredGuestSpec,
  guest: ActualGuest,
  skipped: PlanSkip[],
): Action | undefined {
  if (spec.run === undefined || spec.run === guest.status) return undefined;
  if (guest.status !== "running" && guest.status !== "stopped") {
    skipped.push({ vmid: spec.vmid, reason: "unknown_status", detail: guest.status });
    return undefined;
  }
  if (spec.run === "running") {
    return { op: "guest.start", vmid: spec.vmid, params: {}, reason: "stopped -> running" };
  }
  // A clean shutdown first; forced after the timeout so a hung guest still converges.
  return {
    op: "guest.shutdown",
    vmid: spec.vmid,
    params: { timeoutSec: 60, forceStop: true },
    reason: "running -> stopped",
  };
}
