import { z } from "zod";
import { storageId } from "./common.ts";

/**
 * The backup policy (docs/desired-state.md#backup-policy): per tier (a storage id) when to back
 * up and what to keep, host-wide with per-guest overrides. One shape for the desired-state
 * document and for the signed `backup.policy` operation, which installs a policy the agent's
 * floor would otherwise hold back (src/gate/README.md).
 */

/** `HH:MM-HH:MM`, host local time; a window may run past midnight (`22:00-02:00`). */
const WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

export const backupScheduleSchema = z.union([
  z.strictObject({
    daily: z
      .string()
      .regex(WINDOW, "a daily window is HH:MM-HH:MM")
      .refine((w) => w.slice(0, 5) !== w.slice(6), "a daily window must not be empty"),
  }),
  z.strictObject({ every_hours: z.number().int().min(1).max(168) }),
]);

const keepCount = z.number().int().min(0).max(100_000).optional();

/** PVE's keep-* counts in the document's spelling (docs/proxmox-behaviour.md#backup-retention-marks). */
export const backupRetentionSchema = z
  .strictObject({
    keep_last: keepCount,
    keep_daily: keepCount,
    keep_weekly: keepCount,
    keep_monthly: keepCount,
  })
  .refine((r) => Object.values(r).some((n) => (n ?? 0) > 0), {
    message: "a retention keeps at least one backup (set a keep_* above 0)",
  });

const tierFields = {
  schedule: backupScheduleSchema,
  /** vzdump's mode; PVE falls back from `snapshot` to `suspend` on its own. */
  mode: z.enum(["snapshot", "suspend", "stop"]).optional(),
  compress: z.enum(["0", "gzip", "lzo", "zstd"]).optional(),
  retention: backupRetentionSchema,
  /** vzdump's `notes-template` ({{guestname}}, {{vmid}}, … expanded by PVE). */
  notes_template: z.string().min(1).max(1024).optional(),
  /**
   * Mark the first backup of each month protected, so neither retention nor a delete removes
   * it (docs/reconcile.md#protected-monthly-points).
   */
  protected_monthly: z.boolean().optional(),
};

export const backupTierSchema = z.strictObject(tierFields);

/** A guest's change to one host tier: any field, each replacing the host's. */
export const backupTierOverrideSchema = z.strictObject({
  schedule: tierFields.schedule.optional(),
  mode: tierFields.mode,
  compress: tierFields.compress,
  retention: tierFields.retention.optional(),
  notes_template: tierFields.notes_template,
  protected_monthly: tierFields.protected_monthly,
  /** Not backed up to this tier. */
  exclude: z.boolean().optional(),
});

const vmidKey = z
  .string()
  .regex(/^[1-9]\d{2,8}$/, "guest keys are vmids (100..999999999) written as strings");

export const backupGuestOverrideSchema = z.strictObject({
  /** Not backed up at all by the schedule. */
  exclude: z.boolean().optional(),
  tiers: z.record(storageId, backupTierOverrideSchema).optional(),
});

export const backupPolicySchema = z
  .strictObject({
    tiers: z.record(storageId, backupTierSchema),
    guests: z.record(vmidKey, backupGuestOverrideSchema).optional(),
  })
  .superRefine((p, ctx) => {
    for (const [vmid, g] of Object.entries(p.guests ?? {})) {
      for (const tier of Object.keys(g.tiers ?? {})) {
        if (!Object.hasOwn(p.tiers, tier)) {
          ctx.addIssue({
            code: "custom",
            path: ["guests", vmid, "tiers", tier],
            message: `'${tier}' is not one of the policy's tiers`,
          });
        }
      }
    }
  });

export type BackupSchedule = z.output<typeof backupScheduleSchema>;
export type BackupRetention = z.output<typeof backupRetentionSchema>;
export type BackupTier = z.output<typeof backupTierSchema>;
export type BackupPolicy = z.output<typeof backupPolicySchema>;

/** `backup.policy`: a host-level, signed operation that puts this policy in force. */
export const backupPolicyParams = z.strictObject({ policy: backupPolicySchema });
export type BackupPolicyParams = z.output<typeof backupPolicyParams>;

/** A vzdump archive of a container on `storage`: `<storage>:backup/vzdump-lxc-<vmid>-…`. */
export const BACKUP_VOLID =
  /^[A-Za-z][A-Za-z0-9_.-]{0,63}:backup\/vzdump-lxc-(\d+)-[A-Za-z0-9_.-]{1,200}$/;

/**
 * `guest.backup.delete`: removes one backup outside the policy. Always destructive: it takes a
 * restore point away (src/gate/README.md). The volume must be this guest's on this storage.
 */
export const guestBackupDeleteParams = z
  .strictObject({
    storage: storageId,
    volid: z.string().max(300).regex(BACKUP_VOLID, "not a container backup volume id"),
  })
  .refine((p) => p.volid.startsWith(`${p.storage}:`), {
    message: "the volume is not on that storage",
    path: ["volid"],
  });
export type GuestBackupDeleteParams = z.output<typeof guestBackupDeleteParams>;

/**
 * `guest.backup.protect`: marks one backup of the guest protected, so neither PVE's pruning
 * nor a delete removes it until someone unprotects it by hand. Only the agent's own retention
 * step asks it unsigned, for a tier's monthly point (docs/reconcile.md#protected-monthly-points);
 * it never unprotects.
 */
export const guestBackupProtectParams = z
  .strictObject({
    storage: storageId,
    volid: z.string().max(300).regex(BACKUP_VOLID, "not a container backup volume id"),
  })
  .refine((p) => p.volid.startsWith(`${p.storage}:`), {
    message: "the volume is not on that storage",
    path: ["volid"],
  });
export type GuestBackupProtectParams = z.output<typeof guestBackupProtectParams>;

/** A retention as PVE's `prune-backups` property string, keep counts only. */
const PRUNE_RETENTION =
  /^keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,6}(,keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,6}){0,5}$/;

/**
 * `guest.backup.prune`: the retention step after a backup. `remove` is exactly what PVE's
 * dry run marked and the agent's floor allowed; the executor reads the marks again and prunes
 * only when they still name exactly these (docs/reconcile.md#backup-retention-floor).
 */
export const guestBackupPruneParams = z.strictObject({
  storage: storageId,
  pruneBackups: z.string().regex(PRUNE_RETENTION, "not a keep-* retention"),
  remove: z
    .array(z.string().max(300).regex(BACKUP_VOLID, "not a container backup volume id"))
    .min(1)
    .max(1000),
});
export type GuestBackupPruneParams = z.output<typeof guestBackupPruneParams>;

/** The policy's retention in PVE's spelling, counts of 0 left out. */
export function pruneBackupsText(r: BackupRetention): string {
  const parts: string[] = [];
  if ((r.keep_last ?? 0) > 0) parts.push(`keep-last=${r.keep_last}`);
  if ((r.keep_daily ?? 0) > 0) parts.push(`keep-daily=${r.keep_daily}`);
  if ((r.keep_weekly ?? 0) > 0) parts.push(`keep-weekly=${r.keep_weekly}`);
  if ((r.keep_monthly ?? 0) > 0) parts.push(`keep-monthly=${r.keep_monthly}`);
  return parts.join(",");
}
