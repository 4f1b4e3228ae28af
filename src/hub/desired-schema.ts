import { z } from "zod";

/**
 * The desired state of this host's guests, as the hub serves it (protocol v1). Every guest
 * field is optional: an absent field is unmanaged, so the hub pins only what it cares about.
 * Shared with the reconcile engine, which plans against it.
 */
export const desiredGuestSchema = z.strictObject({
  run: z.enum(["running", "stopped"]).optional(),
  cores: z.number().int().min(1).max(8192).optional(),
  memory_mib: z.number().int().min(16).optional(),
  description: z.string().max(8192).optional(),
  /** Ceiling the in-guest controller may grow cores to through the local API. */
  max_cores: z.number().int().min(1).max(8192).optional(),
  /** Ceiling the in-guest controller may grow memory to through the local API. */
  max_memory_mib: z.number().int().min(16).optional(),
});

// Guest ids are `pve-vmid`: 100..999999999 (pve/apischema.json); JSON object keys are strings.
const vmidKey = z
  .string()
  .regex(/^[1-9]\d{2,8}$/, "guest keys are vmids (100..999999999) written as strings");

export const desiredStateSchema = z.strictObject({
  version: z.literal(1),
  guests: z.record(vmidKey, desiredGuestSchema),
});

export type DesiredGuest = z.output<typeof desiredGuestSchema>;
export type DesiredState = z.output<typeof desiredStateSchema>;
