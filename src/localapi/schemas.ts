import { z } from "zod";

/**
 * Request and response shapes of the local API. The same objects validate requests and make
 * the OpenAPI document, so the document cannot drift from what the server accepts.
 */

/** Snapshots made through this API are named `ctl-<label>` (PVE pve-configid, max 40). */
export const SNAPSHOT_PREFIX = "ctl-";
export const snapshotLabel = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,36}$/, "1–36 characters of A–Z, a–z, 0–9, '_' and '-'");

/** Any PVE snapshot name (pve-configid, docs/proxmox-behaviour.md#endpoint-summary: maxLength 40). */
export const snapshotName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{1,39}$/, "a snapshot name as listed by GET /v1/self/snapshots");

export const createSnapshotBody = z.strictObject({
  name: snapshotLabel
    .optional()
    .describe("Label; the snapshot is named ctl-<label>. Default: ctl-<UTC time>."),
  description: z
    .string()
    .max(200)
    .regex(/^[^\p{Cc}]*$/u, "no control characters")
    .optional(),
});

export const resourcesBody = z
  .strictObject({
    cores: z.number().int().min(1).max(8192).optional(),
    memory_mib: z.number().int().min(16).max(4_194_304).optional(),
  })
  .refine((b) => b.cores !== undefined || b.memory_mib !== undefined, {
    message: "give cores, memory_mib or both",
    path: [],
  });

export const backupBody = z.strictObject({
  mode: z.enum(["snapshot", "suspend", "stop"]).default("snapshot"),
});

export const operationIdParam = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "an operation id as returned by a 202 answer");

export const operationSchema = z.object({
  id: z.string(),
  op: z.string(),
  state: z.enum(["queued", "running", "done", "failed", "pending_signature", "rejected"]),
  reason: z.string().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const acceptedSchema = z.object({
  operation: operationSchema,
  /** Where to poll. */
  status_url: z.string(),
  snapshot: z.string().optional(),
});

export const selfSchema = z.object({
  vmid: z.number().int(),
  name: z.string().optional(),
  status: z.string(),
  lock: z.string().optional(),
  cores: z.number().int().optional(),
  memory_mib: z.number().int().optional(),
  swap_mib: z.number().int().optional(),
  mem_used_bytes: z.number().int().optional(),
  disk_used_bytes: z.number().int().optional(),
  disk_total_bytes: z.number().int().optional(),
  uptime_sec: z.number().int().optional(),
  quota: z.object({
    max_cores: z.number().int().optional(),
    max_memory_mib: z.number().int().optional(),
  }),
});

const volumeSchema = z.object({
  key: z.string().describe("rootfs or mp0…mp255"),
  volume: z.string(),
  storage: z.string(),
  mount_path: z.string().optional(),
  size: z.string().optional().describe("as configured, e.g. 8G"),
  storage_type: z.string().optional(),
  class: z.enum(["local", "shared"]).optional(),
  storage_used_fraction: z.number().optional(),
});

export const storageSchema = z.object({
  rootfs: volumeSchema.optional(),
  mountpoints: z.array(volumeSchema),
  disk_used_bytes: z.number().int().optional(),
  disk_total_bytes: z.number().int().optional(),
  backup_targets: z.array(
    z.object({
      storage: z.string(),
      type: z.string(),
      configured: z.boolean().describe("the tier POST /v1/self/backups writes to"),
      backup_count: z.number().int().describe("the caller's own backups on this storage"),
      backup_bytes: z.number().int(),
      last_backup: z
        .object({
          volid: z.string(),
          time: z.string().optional(),
          size_bytes: z.number().int(),
          age_s: z.number().int().optional().describe("seconds since the newest backup"),
        })
        .nullable(),
    }),
  ),
});

export const snapshotListSchema = z.object({
  snapshots: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      time: z.string().optional(),
      parent: z.string().optional(),
      in_api_namespace: z
        .boolean()
        .describe("named ctl-…; whether rolling back is benign is decided by the agent's journal"),
    }),
  ),
  current_parent: z.string().optional(),
});

export const errorSchema = z.object({
  error: z.string(),
  message: z.string(),
  fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  operation_id: z.string().optional(),
});
