import { z } from "zod";
import { backupPolicySchema } from "../ops/params/backup-policy.ts";
import { storageTargetSchema } from "../ops/params/storage-target.ts";

/**
 * The desired-state document (docs/desired-state.md), one shape whether it comes from the
 * operator's `desired_file` or from the hub. Every guest field is optional: an absent field is
 * unmanaged, so a source pins only what it cares about. This is the trust boundary; inside the
 * agent the document becomes a DesiredState (desired-state.ts).
 */
/** A PVE storage id (`pve-storage-id`), e.g. `local` or `nas-backup`. */
const storageIdSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, "must be a Proxmox storage id");

export const desiredGuestSchema = z
  .strictObject({
    run: z.enum(["running", "stopped"]).optional(),
    cores: z.number().int().min(1).max(8192).optional(),
    // LXC `memory` is MiB with a minimum of 16 (docs/proxmox-behaviour.md#api-schema-source, docs/proxmox-behaviour.md#units).
    memory_mib: z.number().int().min(16).optional(),
    /**
     * Memory in bytes, for sources that think in bytes. Canonicalised to whole MiB (rounded
     * up) because PVE stores MiB (docs/proxmox-behaviour.md#units): comparing raw bytes would see drift forever.
     */
    memory_bytes: z
      .number()
      .int()
      .min(16 * 1024 * 1024)
      .optional(),
    // PVE's own limit on description (docs/proxmox-behaviour.md#snapshots-and-descriptions).
    description: z.string().max(8192).optional(),
    /** Ceiling the in-guest controller may grow cores to through the local API. */
    max_cores: z.number().int().min(1).max(8192).optional(),
    /** Ceiling the in-guest controller may grow memory to through the local API. */
    max_memory_mib: z.number().int().min(16).optional(),
    /**
     * The largest size, in GiB, any one disk of this guest may be grown to without an
     * operator's signature (the gate, src/gate/README.md); a larger grow waits for one.
     */
    max_disk_gib: z.number().int().min(1).max(1_048_576).optional(),
    /** Where this guest's backups go (a storage with content `backup`); overrides the host's. */
    backup_storage: storageIdSchema.optional(),
  })
  .refine((g) => g.memory_mib === undefined || g.memory_bytes === undefined, {
    message: "set memory_mib or memory_bytes, not both",
    path: ["memory_bytes"],
  });

// Guest ids are `pve-vmid`: 100..999999999 (docs/proxmox-behaviour.md#api-schema-source); JSON object keys are strings.
const vmidKey = z
  .string()
  .regex(/^[1-9]\d{2,8}$/, "guest keys are vmids (100..999999999) written as strings");

export const desiredStateSchema = z.strictObject({
  version: z.literal(1),
  guests: z.record(vmidKey, desiredGuestSchema),
  /** Where backups go for guests that name none; absent = the first node storage for backups. */
  backup_storage: storageIdSchema.optional(),
  /**
   * The backup targets this host should have, by PVE storage id (docs/desired-state.md#storage-targets).
   * Absent or `{}`: none managed; a storage not named is left alone and reported as unmanaged.
   */
  storage_targets: z.record(storageIdSchema, storageTargetSchema).optional(),
  /**
   * Scheduled backups and their retention (docs/desired-state.md#backup-policy). Absent: no
   * schedule and no pruning; the policy in force stays. Below the agent's floor, or keeping
   * less than the policy in force, it is held until a signed `backup.policy` brings it.
   */
  backup_policy: backupPolicySchema.optional(),
});

export type DesiredGuestDocument = z.output<typeof desiredGuestSchema>;
export type DesiredStateDocument = z.output<typeof desiredStateSchema>;
/** Names kept for the hub protocol, which validates the same document. */
export type DesiredGuest = DesiredGuestDocument;
export type DesiredState = DesiredStateDocument;
