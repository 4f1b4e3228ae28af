import type { OperationRequest } from "../ops/types.ts";
import type { OverrideField, OverrideInput } from "../store/guest-overrides.ts";
import type { DesiredGuestSpec, DesiredHostState } from "./desired-state.ts";

/** What the planner needs to know of a guest's own grow (a store GuestOverride satisfies it). */
export interface OverrideFacts {
  journalId: number;
  vmid: number;
  field: OverrideField;
  value: number;
  /** The desired value when the guest grew the field; null = the field was unmanaged. */
  desiredValue: number | null;
}

/** An override the desired state has overtaken: the planner plans to desired again. */
export interface OverrideVoid {
  override: OverrideFacts;
  /** The desired value now; null = unmanaged (or the guest is not in desired state). */
  desiredNow: number | null;
  reason: string;
}

export interface OverrideVerdicts {
  /** In force: the planner treats their value as the field's target. */
  standing: OverrideFacts[];
  voided: OverrideVoid[];
}

/** The desired value of a field, in the unit the override stores. */
export function desiredFieldValue(
  spec: DesiredGuestSpec | undefined,
  field: OverrideField,
): number | undefined {
  return field === "cores" ? spec?.cores : spec?.memoryMiB;
}

function quotaName(field: OverrideField): string {
  return field === "cores" ? "max_cores" : "max_memory_mib";
}

function quotaOf(spec: DesiredGuestSpec | undefined, field: OverrideField): number | undefined {
  return field === "cores" ? spec?.maxCores : spec?.maxMemoryMiB;
}

/**
 * Sorts the overrides in force into standing and void, against the desired state now. One
 * stands while the desired value of its field is still the one the guest grew from (no tug of
 * war: the hub has not spoken about that field since), and while the desired quota still
 * allows its value. Anything else means the desired state has moved on, and desired wins.
 */
export function judgeOverrides(
  desired: DesiredHostState,
  overrides: readonly OverrideFacts[],
): OverrideVerdicts {
  const standing: OverrideFacts[] = [];
  const voided: OverrideVoid[] = [];
  for (const o of overrides) {
    const spec = desired.guests.get(o.vmid);
    const now = desiredFieldValue(spec, o.field) ?? null;
    const max = quotaOf(spec, o.field);
    const was = o.desiredValue === null ? "unmanaged" : String(o.desiredValue);
    let reason: string | undefined;
    if (spec === undefined) {
      reason = "the guest is no longer in the desired state";
    } else if (now !== o.desiredValue) {
      reason =
        now === null
          ? `desired ${o.field} is no longer managed (it was ${was} when the guest grew it)`
          : `desired ${o.field} is now ${now} (it was ${was} when the guest grew it)`;
    } else if (max === undefined) {
      reason = `desired state no longer sets ${quotaName(o.field)}`;
    } else if (o.value > max) {
      reason = `${o.field} ${o.value} is over ${quotaName(o.field)} ${max}`;
    }
    if (reason === undefined) standing.push(o);
    else voided.push({ override: o, desiredNow: now, reason });
  }
  return { standing, voided };
}

/**
 * The overrides a request records with its journal intent: a `guest.config` from the local API
 * is the guest's own grow, one override per field it sets, measured against `spec` (the
 * guest's desired state at that moment). Any other request records none.
 */
export function growOverrides(
  req: Pick<OperationRequest, "op" | "origin" | "vmid">,
  params: Record<string, unknown>,
  spec: DesiredGuestSpec | undefined,
): Omit<OverrideInput, "journalId">[] {
  if (req.op !== "guest.config" || req.origin !== "localapi" || req.vmid === undefined) return [];
  const out: Omit<OverrideInput, "journalId">[] = [];
  const add = (field: OverrideField, value: unknown) => {
    if (typeof value !== "number") return;
    out.push({
      vmid: req.vmid as number,
      field,
      value,
      desiredValue: desiredFieldValue(spec, field) ?? null,
    });
  };
  add("cores", params.cores);
  add("memory_mib", params.memoryMiB);
  return out;
}
