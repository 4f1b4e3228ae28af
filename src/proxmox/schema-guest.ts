import { z } from "zod";
import { decodeList, type ListItemProblem, rawId } from "./decode-list.ts";
import { lenientBool, lenientInt, lenientNumber, lenientString } from "./lenient.ts";
import { splitTags } from "./schema-cluster.ts";

/**
 * LXC shapes. Units follow the wire and are named: config `memory`/`swap` are MiB, while
 * status and list `mem`/`maxmem`/`maxswap`/`disk`/`maxdisk` are bytes (docs/proxmox-behaviour.md#units).
 */

export type GuestRunState = "running" | "stopped" | (string & {});

export interface LxcStatus {
  vmid: number;
  status: GuestRunState;
  /** Hostname without whitespace, or `CT<vmid>` (docs/proxmox-behaviour.md#units). */
  name?: string;
  cpuFraction?: number;
  cpus?: number;
  memBytes?: number;
  maxmemBytes?: number;
  swapBytes?: number;
  maxswapBytes?: number;
  diskBytes?: number;
  maxdiskBytes?: number;
  uptimeSec?: number;
  netinBytes?: number;
  netoutBytes?: number;
  diskreadBytes?: number;
  diskwriteBytes?: number;
  /** The config `lock:` value while an operation holds the guest (docs/proxmox-behaviour.md#locks). */
  lock?: string;
  tags: string[];
  template: boolean;
  pid?: number;
  /** From status/current `ha.managed`. */
  haManaged?: boolean;
}

export const lxcStatusSchema = z
  .object({
    // vmid was a string in older releases (docs/proxmox-behaviour.md#json-type-quirks).
    vmid: lenientInt,
    status: z.string(),
    name: lenientString.optional(),
    cpu: lenientNumber.optional(),
    cpus: lenientNumber.optional(),
    mem: lenientInt.optional(),
    maxmem: lenientInt.optional(),
    swap: lenientInt.optional(),
    maxswap: lenientInt.optional(),
    disk: lenientInt.optional(),
    maxdisk: lenientInt.optional(),
    uptime: lenientInt.optional(),
    netin: lenientInt.optional(),
    netout: lenientInt.optional(),
    diskread: lenientInt.optional(),
    diskwrite: lenientInt.optional(),
    lock: z.string().optional(),
    tags: z.string().optional(),
    template: lenientBool.optional(),
    pid: lenientInt.optional(),
    ha: z.object({ managed: lenientBool.optional() }).loose().optional(),
  })
  .loose()
  .transform(
    (s): LxcStatus => ({
      vmid: s.vmid,
      status: s.status,
      name: s.name,
      cpuFraction: s.cpu,
      cpus: s.cpus,
      memBytes: s.mem,
      maxmemBytes: s.maxmem,
      swapBytes: s.swap,
      maxswapBytes: s.maxswap,
      diskBytes: s.disk,
      maxdiskBytes: s.maxdisk,
      uptimeSec: s.uptime,
      netinBytes: s.netin,
      netoutBytes: s.netout,
      diskreadBytes: s.diskread,
      diskwriteBytes: s.diskwrite,
      lock: s.lock || undefined,
      tags: splitTags(s.tags),
      template: s.template ?? false,
      pid: s.pid,
      haManaged: s.ha?.managed,
    }),
  );

export interface LxcConfig {
  /** Config digest, for optimistic concurrency on PUT (docs/proxmox-behaviour.md#endpoint-summary). */
  digest: string;
  hostname?: string;
  /** As PVE returns it: every line ends in `\n` (docs/proxmox-behaviour.md#snapshots-and-descriptions); see normalizeDescription. */
  description?: string;
  memoryMiB?: number;
  swapMiB?: number;
  cores?: number;
  cpulimit?: number;
  cpuunits?: number;
  onboot?: boolean;
  protection?: boolean;
  unprivileged?: boolean;
  template?: boolean;
  lock?: string;
  tags: string[];
  /** Property string, e.g. `keyctl=1,nesting=1`. */
  features?: string;
  ostype?: string;
  arch?: string;
  /** Property string, e.g. `local-lvm:vm-100-disk-0,size=8G`. */
  rootfs?: string;
  /** `mp0` … `mp255` property strings. */
  mountpoints: Record<string, string>;
  /** `net0` … property strings. */
  net: Record<string, string>;
  /** `unused0` … volume ids. */
  unused: Record<string, string>;
  /** Every config key as wire text (the raw `lxc` array excluded). */
  raw: Record<string, string>;
}

const configFields = z
  .object({
    digest: z.string(),
    hostname: lenientString.optional(),
    description: z.string().optional(),
    memory: lenientInt.optional(),
    swap: lenientInt.optional(),
    cores: lenientInt.optional(),
    // cpulimit is passed through as the config string (docs/proxmox-behaviour.md#json-type-quirks).
    cpulimit: lenientNumber.optional(),
    cpuunits: lenientInt.optional(),
    onboot: lenientBool.optional(),
    protection: lenientBool.optional(),
    unprivileged: lenientBool.optional(),
    template: lenientBool.optional(),
    lock: z.string().optional(),
    tags: z.string().optional(),
    features: z.string().optional(),
    ostype: z.string().optional(),
    arch: z.string().optional(),
    rootfs: z.string().optional(),
  })
  .loose();

export const lxcConfigSchema = z
  .record(z.string(), z.unknown())
  .transform((rec, ctx): LxcConfig => {
    const parsed = configFields.safeParse(rec);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
      }
      return z.NEVER;
    }
    const c = parsed.data;
    const raw: Record<string, string> = {};
    const mountpoints: Record<string, string> = {};
    const net: Record<string, string> = {};
    const unused: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") continue;
      const text = String(v);
      raw[k] = text;
      if (/^mp\d+$/.test(k)) mountpoints[k] = text;
      else if (/^net\d+$/.test(k)) net[k] = text;
      else if (/^unused\d+$/.test(k)) unused[k] = text;
    }
    return {
      digest: c.digest,
      hostname: c.hostname,
      description: c.description,
      memoryMiB: c.memory,
      swapMiB: c.swap,
      cores: c.cores,
      cpulimit: c.cpulimit,
      cpuunits: c.cpuunits,
      onboot: c.onboot,
      protection: c.protection,
      unprivileged: c.unprivileged,
      template: c.template,
      lock: c.lock,
      tags: splitTags(c.tags),
      features: c.features,
      ostype: c.ostype,
      arch: c.arch,
      rootfs: c.rootfs,
      mountpoints,
      net,
      unused,
      raw,
    };
  });

export interface LxcSnapshot {
  name: string;
  description: string;
  /** Epoch seconds; absent when PVE reports 0. */
  snaptimeSec?: number;
  parent?: string;
  /** `prepare` / `delete` marks a half-finished snapshot (docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  snapstate?: string;
}

export interface SnapshotList {
  /** Oldest first; PVE itself returns hash order (docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  snapshots: LxcSnapshot[];
  /** The snapshot the running state descends from (the `current` entry's parent). */
  currentParent?: string;
  running?: boolean;
  /** Entries that did not decode whole (left out, or read without some fields). */
  problems?: readonly ListItemProblem[];
}

const snapshotEntry = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    snaptime: lenientInt.optional(),
    parent: z.string().optional(),
    snapstate: z.string().optional(),
    running: lenientBool.optional(),
  })
  .loose();

// Per entry, so one unreadable snapshot does not hide the others (docs/proxmox-behaviour.md#per-item-list-decoding).
export const snapshotListSchema = z.array(z.unknown()).transform((raw): SnapshotList => {
  const entries = decodeList(raw, snapshotEntry, {
    list: "snapshots",
    identify: (r) => ({ id: rawId(r.name) }),
  });
  const current = entries.find((e) => e.name === "current");
  const snapshots = entries
    .filter((e) => e.name !== "current")
    .map(
      (e): LxcSnapshot => ({
        name: e.name,
        description: e.description ?? "",
        snaptimeSec: e.snaptime ? e.snaptime : undefined,
        parent: e.parent,
        snapstate: e.snapstate,
      }),
    )
    .sort((a, b) => (a.snaptimeSec ?? 0) - (b.snaptimeSec ?? 0) || a.name.localeCompare(b.name));
  return {
    snapshots,
    currentParent: current?.parent,
    running: current?.running,
    ...(entries.problems ? { problems: entries.problems } : {}),
  };
});
