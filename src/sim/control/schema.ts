import { z } from "zod";

const rate = z.number().min(0).max(1);
const taskTypes = z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, "must be a task type")).max(64);

/** A fault set as JSON: the same vocabulary as `--faults` (see FAULT_SPEC_HELP), every key optional. */
export const faultObjectSchema = z.strictObject({
  latencyMs: z.number().min(0).max(600_000).optional(),
  http500: rate.optional(),
  http596: rate.optional(),
  drop: rate.optional(),
  dropAfter: rate.optional(),
  taskFail: taskTypes.optional(),
  hang: taskTypes.optional(),
  warn: taskTypes.optional(),
  lockWait: z.array(z.number().int().min(100).max(999_999_999)).max(64).optional(),
});

/**
 * The body of `PUT /v1/faults`: either `{"spec": "dropafter=0.3,latency=50ms"}` in the
 * `--faults` grammar, or `{"faults": {"dropAfter": 0.3}}`. Either replaces the whole fault set;
 * keys left out are off.
 */
export const setFaultsBodySchema = z.union([
  z.strictObject({ spec: z.string().max(4096) }),
  z.strictObject({ faults: faultObjectSchema }),
]);

export type SetFaultsBody = z.output<typeof setFaultsBodySchema>;

/**
 * The body of `POST /v1/host`: changes to the simulated host below Proxmox, applied in order
 * (`src/sim/pve/host-fs.ts`): a USB disk plugged in or pulled out by filesystem UUID, a
 * NAS/PBS server taken offline or brought back.
 */
export const hostChangeBodySchema = z.strictObject({
  plug: z
    .array(z.string().regex(/^[0-9A-Fa-f-]{8,36}$/, "must be a filesystem UUID"))
    .max(16)
    .optional(),
  unplug: z
    .array(z.string().regex(/^[0-9A-Fa-f-]{8,36}$/, "must be a filesystem UUID"))
    .max(16)
    .optional(),
  offline: z.array(z.string().min(1).max(253)).max(16).optional(),
  online: z.array(z.string().min(1).max(253)).max(16).optional(),
});
