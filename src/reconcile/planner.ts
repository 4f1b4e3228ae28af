import type { GuestConfigParams } from "../ops/params/guest-config.ts";
import { normalizeDescription } from "../proxmox/description.ts";
import type { Action } from "./actions.ts";
import type { ActualGuest, ActualHostState } from "./actual-state.ts";
import type { DesiredGuestSpec, DesiredHostState } from "./desired-state.ts";
import { judgeOverrides, type OverrideFacts, type OverrideVerdicts } from "./overrides.ts";

/** LXC memory when the config has no `memory` key: status derives maxmem from 512 (docs/proxmox-behaviour.md#units). */
export const PVE_DEFAULT_MEMORY_MIB = 512;

const OWN_GROW = " as the guest grew it";

export type SkipReason =
  | "absent"
  | "busy"
  | "locked"
  | "template"
  | "unknown_status"
  | "config_unreadable"
  | "unreadable";

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
  /**
   * The guests' own grows: standing ones are the target of their field; void ones were
   * overtaken by the desired state, and the caller forgets them.
   */
  overrides: OverrideVerdicts;
}

/** A standing override per guest field, by vmid. */
type StandingByGuest = ReadonlyMap<number, Partial<Record<OverrideFacts["field"], OverrideFacts>>>;

/**
 * The next batch of actions that moves actual toward desired. Pure: state in, actions out.
 * - No desired state (undefined) plans nothing (docs/architecture.md#no-desired-state-is-not-an-empty-one); an empty one leaves every guest
 *   alone. Only guests named in desired state are touched, and only their named fields.
 * - A guest missing from desired state is never stopped or destroyed; a desired guest that
 *   does not exist is not created here (provisioning is its own, gated, operation).
 * - A guest with work in flight is skipped: the next pass sees the result (level-triggered).
 * - A guest's own grow (an override in force) is the target of its field for as long as it
 *   stands (overrides.ts judgeOverrides): the reconciler keeps it instead of undoing it.
 */
export function planActions(
  desired: DesiredHostState | undefined,
  actual: ActualHostState,
  inFlight: ReadonlySet<number>,
  overrides: readonly OverrideFacts[] = [],
): Plan {
  if (desired === undefined) {
    // Nothing to judge them against: every override stays as it is.
    return {
      actions: [],
      skipped: [],
      haveDesired: false,
      overrides: { standing: [...overrides], voided: [] },
    };
  }
  const verdicts = judgeOverrides(desired, overrides);
  const standing = new Map<number, Partial<Record<OverrideFacts["field"], OverrideFacts>>>();
  for (const o of verdicts.standing)
    standing.set(o.vmid, { ...standing.get(o.vmid), [o.field]: o });
  const actions: Action[] = [];
  const skipped: PlanSkip[] = [];
  const vmids = [...desired.guests.keys()].sort((a, b) => a - b);
  for (const vmid of vmids) {
    const spec = desired.guests.get(vmid) as DesiredGuestSpec;
    const guest = actual.guests.get(vmid);
    if (guest === undefined) {
      const why = actual.unreadable?.get(vmid);
      skipped.push(
        why === undefined
          ? { vmid, reason: "absent" }
          : { vmid, reason: "unreadable", detail: why },
      );
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
    // A backup or snapshot holds the guest; PVE would refuse with `CT is locked` (docs/proxmox-behaviour.md#locks).
    if (guest.lock !== undefined) {
      skipped.push({ vmid, reason: "locked", detail: guest.lock });
      continue;
    }
    const config = planConfig(spec, guest, skipped, standing);
    if (config) actions.push(config);
    const run = planRun(spec, guest, skipped);
    if (run) actions.push(run);
  }
  return { actions, skipped, haveDesired: true, overrides: verdicts };
}

function planConfig(
  spec: DesiredGuestSpec,
  guest: ActualGuest,
  skipped: PlanSkip[],
  standing: StandingByGuest,
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
  // A standing override only ever replaces a managed field's value (it stands only while
  // desired still says what it said when the guest grew it); an unmanaged field stays so.
  const own = standing.get(spec.vmid);
  const cores = spec.cores === undefined ? undefined : (own?.cores?.value ?? spec.cores);
  if (cores !== undefined && cores !== config.cores) {
    params.cores = cores;
    why.push(`cores ${config.cores ?? "unset"} -> ${cores}${own?.cores ? OWN_GROW : ""}`);
  }
  const memoryNow = config.memoryMiB ?? PVE_DEFAULT_MEMORY_MIB;
  const memory =
    spec.memoryMiB === undefined ? undefined : (own?.memory_mib?.value ?? spec.memoryMiB);
  if (memory !== undefined && memory !== memoryNow) {
    params.memoryMiB = memory;
    why.push(`memory ${memoryNow} MiB -> ${memory} MiB${own?.memory_mib ? OWN_GROW : ""}`);
  }
  // PVE reads a description back with a newline after every line (docs/proxmox-behaviour.md#snapshots-and-descriptions).
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
