import { z } from "zod";
import { storageId } from "./common.ts";

/** PVE's `prune-backups` property string: `keep-all=1` or `keep-<period>=N`, comma-separated. */
export const PRUNE_BACKUPS =
  /^keep-(all|last|hourly|daily|weekly|monthly|yearly)=\d{1,6}(,keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,6}){0,5}$/;

/**
 * The retention every backup carries unless a signed operation says otherwise: keep-all turns
 * vzdump's `remove` off and lifts the storage's limit for this call, so a backup never prunes
 * and is never refused for the count of older ones (docs/proxmox-behaviour.md#vzdump-remove).
 */
export const BACKUP_KEEP_ALL = "keep-all=1";

/**
 * Everything `guest.backup` can carry. `remove` and `pruneBackups` are here because a signed
 * operation may prune; which of their values are benign is the gate's rule
 * (src/gate/param-rules.ts), not part of the shape.
 */
export const guestBackupParams = z.strictObject({
  storage: storageId,
  mode: z.enum(["snapshot", "suspend", "stop"]).optional(),
  compress: z.enum(["0", "1", "gzip", "lzo", "zstd"]).optional(),
  notesTemplate: z.string().max(1024).optional(),
  protected: z.boolean().optional(),
  /**
   * Prune older backups by the retention (the storage's, unless `pruneBackups` names one).
   * Absent, the agent sends `remove=0` (docs/proxmox-behaviour.md#vzdump-remove).
   */
  remove: z.boolean().optional(),
  /**
   * The retention for this call, a PVE `prune-backups` string. Absent, the agent sends
   * `keep-all=1`, so the storage's retention neither prunes nor refuses the backup.
   */
  pruneBackups: z.string().regex(PRUNE_BACKUPS, "not a prune-backups value").optional(),
});

export type GuestBackupParams = z.output<typeof guestBackupParams>;
