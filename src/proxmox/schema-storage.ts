import { z } from "zod";
import { lenientBool, lenientInt, lenientNumber } from "./lenient.ts";
import { splitList } from "./schema-cluster.ts";

/** `GET /storage`: the datacenter storage configuration (filtered by privileges). */
export interface StorageConfigEntry {
  storage: string;
  type?: string;
  content: string[];
  shared?: boolean;
  disabled?: boolean;
  path?: string;
  nodes?: string[];
  /** The identity fields of network and PBS storages, as storage.cfg holds them. */
  server?: string;
  export?: string;
  share?: string;
  username?: string;
  datastore?: string;
  fingerprint?: string;
  namespace?: string;
}

export const storageConfigSchema = z
  .object({
    storage: z.string(),
    type: z.string().optional(),
    content: z.string().optional(),
    shared: lenientBool.optional(),
    disable: lenientBool.optional(),
    path: z.string().optional(),
    nodes: z.string().optional(),
    server: z.string().optional(),
    export: z.string().optional(),
    share: z.string().optional(),
    username: z.string().optional(),
    datastore: z.string().optional(),
    fingerprint: z.string().optional(),
    namespace: z.string().optional(),
  })
  .loose()
  .transform(
    (s): StorageConfigEntry => ({
      storage: s.storage,
      type: s.type,
      content: splitList(s.content),
      shared: s.shared,
      disabled: s.disable,
      path: s.path,
      nodes: s.nodes === undefined ? undefined : splitList(s.nodes),
      server: s.server,
      export: s.export,
      share: s.share,
      username: s.username,
      datastore: s.datastore,
      fingerprint: s.fingerprint,
      namespace: s.namespace,
    }),
  );

/** `POST /storage` answer (pve-storage `API2/Storage/Config.pm` create). */
export const createdStorageSchema = z
  .object({
    storage: z.string(),
    type: z.string(),
    config: z.object({ "encryption-key": z.string().optional() }).loose().optional(),
  })
  .loose()
  .transform((r) => ({
    storage: r.storage,
    type: r.type,
    ...(r.config?.["encryption-key"] !== undefined
      ? { encryptionKey: r.config["encryption-key"] }
      : {}),
  }));

/** `GET /nodes/{node}/storage`: per-node storage status, sizes in bytes. */
export interface NodeStorage {
  storage: string;
  type: string;
  content: string[];
  active?: boolean;
  enabled?: boolean;
  shared?: boolean;
  totalBytes?: number;
  usedBytes?: number;
  availBytes?: number;
  usedFraction?: number;
}

export const nodeStorageSchema = z
  .object({
    storage: z.string(),
    type: z.string(),
    content: z.string().optional(),
    active: lenientBool.optional(),
    enabled: lenientBool.optional(),
    shared: lenientBool.optional(),
    total: lenientInt.optional(),
    used: lenientInt.optional(),
    avail: lenientInt.optional(),
    used_fraction: lenientNumber.optional(),
  })
  .loose()
  .transform(
    (s): NodeStorage => ({
      storage: s.storage,
      type: s.type,
      content: splitList(s.content),
      active: s.active,
      enabled: s.enabled,
      shared: s.shared,
      totalBytes: s.total,
      usedBytes: s.used,
      availBytes: s.avail,
      usedFraction: s.used_fraction,
    }),
  );

/** `GET /nodes/{node}/storage/{storage}/content`: one volume (backup, template, disk…). */
export interface StorageVolume {
  volid: string;
  format: string;
  sizeBytes: number;
  content?: string;
  ctimeSec?: number;
  vmid?: number;
  /** First line of the notes only (schema). */
  notes?: string;
  protected?: boolean;
  usedBytes?: number;
  parent?: string;
}

export const storageVolumeSchema = z
  .object({
    volid: z.string(),
    format: z.string(),
    size: lenientInt,
    content: z.string().optional(),
    ctime: lenientInt.optional(),
    vmid: lenientInt.optional(),
    notes: z.string().optional(),
    protected: lenientBool.optional(),
    used: lenientInt.optional(),
    parent: z.string().optional(),
  })
  .loose()
  .transform(
    (v): StorageVolume => ({
      volid: v.volid,
      format: v.format,
      sizeBytes: v.size,
      content: v.content,
      ctimeSec: v.ctime,
      vmid: v.vmid,
      notes: v.notes,
      protected: v.protected,
      usedBytes: v.used,
      parent: v.parent,
    }),
  );

/** One entry of the prune dry run (docs/proxmox-behaviour.md#backup-retention-marks). */
export interface PruneMark {
  volid: string;
  ctimeSec: number;
  type: string;
  vmid?: number;
  mark: "keep" | "remove" | "protected" | "renamed";
}

export const pruneMarkSchema = z
  .object({
    volid: z.string(),
    ctime: lenientInt,
    type: z.string(),
    vmid: lenientInt.optional(),
    mark: z.enum(["keep", "remove", "protected", "renamed"]),
  })
  .loose()
  .transform(
    (v): PruneMark => ({
      volid: v.volid,
      ctimeSec: v.ctime,
      type: v.type,
      ...(v.vmid !== undefined ? { vmid: v.vmid } : {}),
      mark: v.mark,
    }),
  );
