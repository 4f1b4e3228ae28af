import { z } from "zod";
import { guestResources, storageId } from "./common.ts";
import { sealedSecretSchema } from "./sealed.ts";

/**
 * A guest from a vzdump archive (docs/proxmox-behaviour.md#lxc-restore-from-archive). Volumes
 * are placed by `storage`; `rootfs`/`mpN` could name an existing volume and are not accepted.
 */
const fromArchive = {
  /** Backup volume id, e.g. `local:backup/vzdump-lxc-900-….tar.zst`. */
  archive: z.string().min(1).max(512),
  /** Target storage for the root disk and mount points. */
  storage: storageId.optional(),
  hostname: z.string().max(253).optional(),
  /** New MAC addresses (it renews nothing else; docs/proxmox-behaviour.md#identity-on-restore). */
  unique: z.boolean().optional(),
  start: z.boolean().optional(),
  unprivileged: z.boolean().optional(),
  pool: z.string().max(64).optional(),
  ...guestResources,
  /** `net0` … property strings. */
  net: z.record(z.string().regex(/^net\d{1,2}$/), z.string().max(512)).optional(),
  tags: z.array(z.string().max(64)).max(32).optional(),
};

/**
 * `guest.provision` never carries `force`: PVE then refuses to create over an id in use
 * ("CT <vmid> already exists", docs/proxmox-behaviour.md#locks), so nothing is overwritten.
 */
export const guestProvisionParams = z.strictObject({
  ...fromArchive,
  force: z.literal(false).optional(),
  /**
   * The in-guest controller's hub credential, sealed by the hub for the guest: the agent
   * relays it in the guest's bootstrap grant and never opens it
   * (docs/architecture.md#provisioning-constraints). Not sent to Proxmox.
   */
  hub_credential: sealedSecretSchema.optional(),
});

/** `guest.restore` replaces an existing guest, which PVE allows only with `force`. */
export const guestRestoreParams = z.strictObject({
  ...fromArchive,
  /** Overwrite an existing CT (needs VM.Backup). */
  force: z.boolean().optional(),
});

export type GuestProvisionParams = z.output<typeof guestProvisionParams>;
export type GuestRestoreParams = z.output<typeof guestRestoreParams>;
