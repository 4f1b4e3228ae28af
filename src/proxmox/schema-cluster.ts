import { z } from "zod";
import { lenientBool, lenientInt, lenientNumber, lenientString } from "./lenient.ts";

/** Units are in the field names: `…Bytes`, `…MiB`, `…Sec`; `cpuFraction` is 0..1 (docs/proxmox-behaviour.md#units). */

export interface PveVersion {
  version: string;
  release: string;
  repoid: string;
}

export const versionSchema = z
  .object({ version: z.string(), release: lenientString, repoid: z.string() })
  .loose()
  .transform((v): PveVersion => ({ version: v.version, release: v.release, repoid: v.repoid }));

export interface NodeEntry {
  node: string;
  status: "online" | "offline" | "unknown";
  cpuFraction?: number;
  maxcpu?: number;
  memBytes?: number;
  maxmemBytes?: number;
  uptimeSec?: number;
  /** SHA-256 of the node's certificate, `AA:BB:…` (docs/proxmox-behaviour.md#ssl-fingerprint): the value to pin. */
  sslFingerprint?: string;
}

export const nodeEntrySchema = z
  .object({
    node: z.string(),
    status: z.enum(["online", "offline", "unknown"]).catch("unknown"),
    cpu: lenientNumber.optional(),
    maxcpu: lenientInt.optional(),
    mem: lenientInt.optional(),
    maxmem: lenientInt.optional(),
    uptime: lenientInt.optional(),
    ssl_fingerprint: z.string().optional(),
  })
  .loose()
  .transform(
    (n): NodeEntry => ({
      node: n.node,
      status: n.status,
      cpuFraction: n.cpu,
      maxcpu: n.maxcpu,
      memBytes: n.mem,
      maxmemBytes: n.maxmem,
      uptimeSec: n.uptime,
      sslFingerprint: n.ssl_fingerprint,
    }),
  );

export interface NodeStatus {
  cpuFraction?: number;
  cpuinfo?: { cores?: number; cpus?: number; sockets?: number; model?: string };
  memory?: { totalBytes: number; usedBytes: number; freeBytes: number };
  swap?: { totalBytes: number; usedBytes: number; freeBytes: number };
  rootfs?: { totalBytes: number; usedBytes: number; availBytes: number };
  /** 1, 5, 15 minute load; PVE sends them as strings. */
  loadavg?: number[];
  uptimeSec?: number;
  pveversion?: string;
  kversion?: string;
}

const memInfo = z
  .object({ total: lenientInt, used: lenientInt, free: lenientInt })
  .loose()
  .transform((m) => ({ totalBytes: m.total, usedBytes: m.used, freeBytes: m.free }));

export const nodeStatusSchema = z
  .object({
    cpu: lenientNumber.optional(),
    cpuinfo: z
      .object({
        cores: lenientInt.optional(),
        cpus: lenientInt.optional(),
        sockets: lenientInt.optional(),
        model: z.string().optional(),
      })
      .loose()
      .optional(),
    memory: memInfo.optional(),
    swap: memInfo.optional(),
    rootfs: z
      .object({ total: lenientInt, used: lenientInt, avail: lenientInt })
      .loose()
      .transform((r) => ({ totalBytes: r.total, usedBytes: r.used, availBytes: r.avail }))
      .optional(),
    loadavg: z.array(lenientNumber).optional(),
    uptime: lenientInt.optional(),
    pveversion: z.string().optional(),
    kversion: z.string().optional(),
  })
  .loose()
  .transform(
    (s): NodeStatus => ({
      cpuFraction: s.cpu,
      cpuinfo: s.cpuinfo && {
        cores: s.cpuinfo.cores,
        cpus: s.cpuinfo.cpus,
        sockets: s.cpuinfo.sockets,
        model: s.cpuinfo.model,
      },
      memory: s.memory,
      swap: s.swap,
      rootfs: s.rootfs,
      loadavg: s.loadavg,
      uptimeSec: s.uptime,
      pveversion: s.pveversion,
      kversion: s.kversion,
    }),
  );

export interface ClusterResource {
  id: string;
  type: string;
  node?: string;
  vmid?: number;
  name?: string;
  status?: string;
  storage?: string;
  pool?: string;
  lock?: string;
  template?: boolean;
  shared?: boolean;
  content?: string[];
  tags: string[];
  cpuFraction?: number;
  maxcpu?: number;
  memBytes?: number;
  maxmemBytes?: number;
  diskBytes?: number;
  maxdiskBytes?: number;
  uptimeSec?: number;
}

export const clusterResourceSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    node: z.string().optional(),
    vmid: lenientInt.optional(),
    name: z.string().optional(),
    status: z.string().optional(),
    storage: z.string().optional(),
    pool: z.string().optional(),
    lock: z.string().optional(),
    template: lenientBool.optional(),
    shared: lenientBool.optional(),
    content: z.string().optional(),
    tags: z.string().optional(),
    cpu: lenientNumber.optional(),
    maxcpu: lenientNumber.optional(),
    mem: lenientInt.optional(),
    maxmem: lenientInt.optional(),
    disk: lenientInt.optional(),
    maxdisk: lenientInt.optional(),
    uptime: lenientInt.optional(),
  })
  .loose()
  .transform(
    (r): ClusterResource => ({
      id: r.id,
      type: r.type,
      node: r.node,
      vmid: r.vmid,
      name: r.name,
      status: r.status,
      storage: r.storage,
      pool: r.pool,
      lock: r.lock,
      template: r.template,
      shared: r.shared,
      content: r.content === undefined ? undefined : splitList(r.content),
      tags: splitTags(r.tags),
      cpuFraction: r.cpu,
      maxcpu: r.maxcpu,
      memBytes: r.mem,
      maxmemBytes: r.maxmem,
      diskBytes: r.disk,
      maxdiskBytes: r.maxdisk,
      uptimeSec: r.uptime,
    }),
  );

/** PVE returns nextid as a string (docs/proxmox-behaviour.md#json-type-quirks). */
export const nextIdSchema = lenientInt;

/** `GET /access/permissions`: path → privilege → propagate flag (0/1 on the wire). */
export type PermissionMap = Record<string, Record<string, boolean>>;
export const permissionsSchema = z.record(z.string(), z.record(z.string(), lenientBool));

/** Content lists are comma separated (`images,rootdir`). */
export function splitList(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Tags are `;` separated on the wire; PVE also accepts `,` and spaces on input. */
export function splitTags(text: string | undefined): string[] {
  if (!text) return [];
  return text.split(/[;,\s]+/).filter((s) => s !== "");
}
