import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { LxcConfig, LxcStatus, SnapshotList } from "../proxmox/schema-guest.ts";
import type { NodeStorage, StorageVolume } from "../proxmox/schema-storage.ts";
import type { ReadCache } from "./read-cache.ts";

/**
 * Proxmox reads for one guest. GET routes use the cache; a mutation's pre-checks read fresh,
 * since a snapshot created a moment ago must be found even if the list was cached before.
 */
export interface GuestReads {
  status(vmid: number, fresh?: boolean): Promise<LxcStatus>;
  config(vmid: number, fresh?: boolean): Promise<LxcConfig>;
  snapshots(vmid: number, fresh?: boolean): Promise<SnapshotList>;
  nodeStorage(): Promise<NodeStorage[]>;
  backups(vmid: number, storage: string): Promise<StorageVolume[]>;
  /** Forget a guest's cached reads after it asked for a change. */
  invalidate(vmid: number): void;
}

export function createGuestReads(proxmox: ProxmoxClient, cache: ReadCache): GuestReads {
  const cached = <T>(key: string, fresh: boolean | undefined, load: () => Promise<T>) =>
    fresh ? load() : cache.get(key, load);
  return {
    status: (vmid, fresh) => cached(`${vmid}:status`, fresh, () => proxmox.guestStatus(vmid)),
    config: (vmid, fresh) => cached(`${vmid}:config`, fresh, () => proxmox.guestConfig(vmid)),
    snapshots: (vmid, fresh) =>
      cached(`${vmid}:snapshots`, fresh, () => proxmox.listSnapshots(vmid)),
    nodeStorage: () => cache.get("host:storage", () => proxmox.nodeStorage()),
    backups: (vmid, storage) =>
      cache.get(`${vmid}:backups:${storage}`, () =>
        proxmox.storageContent(storage, { vmid, content: "backup" }),
      ),
    invalidate: (vmid) => cache.invalidate(`${vmid}:`),
  };
}
