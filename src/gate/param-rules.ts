import { z } from "zod";

/**
 * The parameters an operation may carry and still be judged by its rule. Every schema is
 * strict: a key not listed here (a provenance claim such as `scratch`, a PVE option smuggled in
 * through `extra`) makes the operation unknown, and unknown is destructive. A new executor
 * parameter is added here, with the reason it cannot harm customer data.
 */

// `rootfs`, `mp0` … `mp255`, `unused0` …: keys that hold or detach a volume (docs/proxmox-behaviour.md#api-schema-source).
export const VOLUME_KEY = /^(rootfs|mp\d{1,3}|unused\d{1,3})$/;

// PVE `pve-configid`-style snapshot names; `current` and `vzdump` are reserved (docs/proxmox-behaviour.md#locks).
const snapshotName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{1,39}$/, "not a snapshot name")
  .refine((n) => n !== "current" && n !== "vzdump", "reserved snapshot name");

const digest = z.string().regex(/^[0-9a-f]{1,64}$/, "not a config digest");

/**
 * `guest.config` keys that change no customer data and are undone by setting them back:
 * CPU, memory, swap and the description (docs/proxmox-behaviour.md#sync-and-async-endpoints, docs/proxmox-behaviour.md#units, docs/proxmox-behaviour.md#snapshots-and-descriptions).
 */
const configSet = {
  cores: z.number().int().min(1).max(8192).optional(),
  memoryMiB: z.number().int().min(16).optional(),
  swapMiB: z.number().int().min(0).optional(),
  description: z.string().max(8192).optional(),
};

/**
 * Keys whose removal is harmless: the description, and `env`, which carries the one-time
 * bootstrap code and is removed by the agent once the controller has traded it
 * (docs/architecture.md#provisioning-constraints).
 */
export const BENIGN_DELETE_KEYS = ["description", "env"] as const;

export const guestConfigParams = z
  .strictObject({
    ...configSet,
    delete: z.array(z.enum(BENIGN_DELETE_KEYS)).min(1).max(8).optional(),
    digest: digest.optional(),
  })
  .refine((p) => Object.keys(p).some((k) => k !== "digest"), "no change named");

export const shutdownParams = z.strictObject({
  timeoutSec: z.number().int().min(0).max(3600).optional(),
  forceStop: z.boolean().optional(),
});

export const emptyParams = z.strictObject({});

/** Growth only: PVE's size grammar with a mandatory leading `+` (docs/proxmox-behaviour.md#endpoint-summary, docs/proxmox-behaviour.md#units). */
export const GROW_SIZE = /^\+\d{1,12}(\.\d{1,6})?[KMGT]?$/;

export const resizeParams = z.strictObject({
  disk: z.string().regex(/^(rootfs|mp\d{1,3})$/, "not a disk (rootfs, mp0…mp255)"),
  size: z.string().regex(GROW_SIZE, "not a growth ('+N[KMGT]')"),
  digest: digest.optional(),
});

export const snapshotCreateParams = z.strictObject({
  name: snapshotName,
  description: z.string().max(8192).optional(),
});

/**
 * A backup only adds a copy when it cannot prune: `remove` defaults to 1 in PVE and prunes by
 * the effective retention, so the executor always sends `remove=0` with `prune-backups=keep-all=1`
 * (docs/proxmox-behaviour.md#vzdump-remove). A caller may restate that pair, never change it:
 * `remove: true` or any other retention deletes older backups and is destructive.
 */
export const backupParams = z.strictObject({
  storage: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, "not a storage id"),
  mode: z.enum(["snapshot", "suspend", "stop"]).optional(),
  compress: z.enum(["0", "1", "gzip", "lzo", "zstd"]).optional(),
  notesTemplate: z.string().max(1024).optional(),
  protected: z.boolean().optional(),
  remove: z.literal(false).optional(),
  pruneBackups: z.literal("keep-all=1").optional(),
});

/**
 * A new guest from an archive. PVE refuses to create over an existing id unless `force` is
 * set ("CT <vmid> already exists", docs/proxmox-behaviour.md#locks), so without `force` nothing is overwritten.
 * Volumes are placed by `storage`; `rootfs`/`mpN` could name an existing volume and are not
 * accepted here.
 */
export const provisionParams = z.strictObject({
  archive: z.string().min(1).max(512),
  storage: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/)
    .optional(),
  hostname: z.string().max(253).optional(),
  unique: z.boolean().optional(),
  start: z.boolean().optional(),
  unprivileged: z.boolean().optional(),
  pool: z.string().max(64).optional(),
  cores: configSet.cores,
  memoryMiB: configSet.memoryMiB,
  swapMiB: configSet.swapMiB,
  description: configSet.description,
  net: z.record(z.string().regex(/^net\d{1,2}$/), z.string().max(512)).optional(),
  tags: z.array(z.string().max(64)).max(32).optional(),
  force: z.literal(false).optional(),
});

/** Rollback and snapshot delete name one snapshot; delete may `force` a stuck removal. */
export const rollbackParams = z.strictObject({ name: snapshotName });
export const snapshotDeleteParams = z.strictObject({
  name: snapshotName,
  force: z.boolean().optional(),
});

export const destroyParams = z.strictObject({
  force: z.boolean().optional(),
  purge: z.boolean().optional(),
  destroyUnreferencedDisks: z.boolean().optional(),
});

/** Restore over a guest: whatever it restores, the guest's current data is replaced. */
export const restoreParams = provisionParams.extend({ force: z.boolean().optional() });
