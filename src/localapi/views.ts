import type { OperationStatus } from "../ops/types.ts";
import type { LxcConfig, LxcStatus, SnapshotList } from "../proxmox/schema-guest.ts";
import type { NodeStorage, StorageVolume } from "../proxmox/schema-storage.ts";
import type { GuestQuota } from "./deps.ts";
import { SNAPSHOT_PREFIX } from "./schemas.ts";

/** Plain JSON shapes the routes answer with (documented by schemas.ts). */

const iso = (sec: number | undefined) =>
  sec === undefined ? undefined : new Date(sec * 1000).toISOString();

export function selfView(status: LxcStatus, config: LxcConfig, quota: GuestQuota | undefined) {
  return {
    vmid: status.vmid,
    name: config.hostname ?? status.name,
    status: status.status,
    lock: status.lock ?? config.lock,
    cores: config.cores,
    // config memory/swap are MiB, status mem/disk are bytes (docs/proxmox-behaviour.md#units)
    memory_mib: config.memoryMiB,
    swap_mib: config.swapMiB,
    mem_used_bytes: status.memBytes,
    disk_used_bytes: status.diskBytes,
    disk_total_bytes: status.maxdiskBytes,
    uptime_sec: status.uptimeSec,
    quota: { max_cores: quota?.maxCores, max_memory_mib: quota?.maxMemoryMiB },
  };
}

/** `local-lvm:vm-101-disk-1,mp=/data,size=4G` → its parts. */
export function parseVolumeProperty(text: string): {
  volume: string;
  options: Record<string, string>;
} {
  const [head = "", ...rest] = text.split(",");
  const options: Record<string, string> = {};
  let volume = head;
  if (head.includes("=")) {
    // A property string may name the volume explicitly (`volume=…`) instead of first.
    const [k = "", v = ""] = head.split("=", 2);
    options[k] = v;
    volume = options.volume ?? "";
  }
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq > 0) options[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (options.volume) volume = options.volume;
  return { volume, options };
}

function volumeView(key: string, text: string, storages: Map<string, NodeStorage>) {
  const { volume, options } = parseVolumeProperty(text);
  const colon = volume.indexOf(":");
  // A bind mount (`/host/path`) has no storage; its host path is not the guest's business.
  const storage = colon > 0 ? volume.slice(0, colon) : "bind";
  const st = storages.get(storage);
  return {
    key,
    volume: colon > 0 ? volume : "bind",
    storage,
    mount_path: key === "rootfs" ? "/" : options.mp,
    size: options.size,
    storage_type: st?.type,
    class: st ? (st.shared ? ("shared" as const) : ("local" as const)) : undefined,
    storage_used_fraction: st?.usedFraction,
  };
}

export interface BackupTargetInput {
  storage: NodeStorage;
  volumes: StorageVolume[];
  configured: boolean;
}

export function storageView(
  status: LxcStatus,
  config: LxcConfig,
  nodeStorage: NodeStorage[],
  targets: BackupTargetInput[],
  nowMs: number,
) {
  const byId = new Map(nodeStorage.map((s) => [s.storage, s]));
  const mountpoints = Object.entries(config.mountpoints)
    .sort(([a], [b]) => Number(a.slice(2)) - Number(b.slice(2)))
    .map(([k, v]) => volumeView(k, v, byId));
  return {
    rootfs: config.rootfs ? volumeView("rootfs", config.rootfs, byId) : undefined,
    mountpoints,
    disk_used_bytes: status.diskBytes,
    disk_total_bytes: status.maxdiskBytes,
    backup_targets: targets.map((t) => {
      const last = [...t.volumes].sort((a, b) => (b.ctimeSec ?? 0) - (a.ctimeSec ?? 0))[0];
      return {
        storage: t.storage.storage,
        type: t.storage.type,
        configured: t.configured,
        backup_count: t.volumes.length,
        backup_bytes: t.volumes.reduce((sum, v) => sum + v.sizeBytes, 0),
        last_backup: last
          ? {
              volid: last.volid,
              time: iso(last.ctimeSec),
              size_bytes: last.sizeBytes,
              ...(last.ctimeSec === undefined
                ? {}
                : { age_s: Math.max(0, Math.floor(nowMs / 1000) - last.ctimeSec) }),
            }
          : null,
      };
    }),
  };
}

export function snapshotsView(list: SnapshotList) {
  return {
    snapshots: list.snapshots.map((s) => ({
      name: s.name,
      description: s.description,
      time: iso(s.snaptimeSec),
      parent: s.parent,
      in_api_namespace: s.name.startsWith(SNAPSHOT_PREFIX),
    })),
    current_parent: list.currentParent,
  };
}

/** The guest sees its operation without host details (UPID, node). */
export function operationView(s: OperationStatus) {
  return {
    id: s.id,
    op: s.op,
    state: s.state,
    reason: s.reason,
    result: s.result,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}
