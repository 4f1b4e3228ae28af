import { createHash } from "node:crypto";
import type { CtConfig } from "./ct-config.ts";
import { storedDescription } from "./description.ts";
import type { PveSeed } from "./seed.ts";

export interface CtSnapshot {
  name: string;
  description: string;
  /** Epoch seconds. */
  snaptime: number;
  parent?: string;
  /** Half-finished snapshot (docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  snapstate?: "prepare" | "delete";
  config: CtConfig;
}

export interface CtGuest {
  vmid: number;
  running: boolean;
  config: CtConfig;
  /** `[pve:pending]` values for a running CT (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
  pending: CtConfig;
  pendingDelete: Set<string>;
  snapshots: Map<string, CtSnapshot>;
  parent?: string;
  startedAtMs?: number;
  pid?: number;
}

export interface SimVolume {
  volid: string;
  content: string;
  format: string;
  size: number;
  ctime: number;
  vmid?: number;
  notes?: string;
  protected?: boolean;
  config?: CtConfig;
}

export interface SimStorage {
  storage: string;
  type: string;
  content: string[];
  path?: string;
  vgname?: string;
  thinpool?: string;
  shared: boolean;
  total: number;
  baseUsed: number;
  /** `prune-backups` in storage.cfg, as written (docs/proxmox-behaviour.md#vzdump-remove). */
  pruneBackups?: string;
  /** `max-protected-backups` in storage.cfg; absent means 5, or unlimited with Datastore.Allocate. */
  maxProtectedBackups?: number;
  /** `dir`: the path must be a mount point; the storage is inactive while it is not mounted. */
  isMountpoint?: boolean;
  /** `disable` in storage.cfg. */
  disabled?: boolean;
  /** Identity of network and PBS storages, as storage.cfg holds it. */
  server?: string;
  export?: string;
  share?: string;
  username?: string;
  datastore?: string;
  fingerprint?: string;
  namespace?: string;
  /** Mount options (`options`) and `smbversion`, as written. */
  options?: string;
  smbversion?: string;
  /** PBS: the fingerprint of its encryption key (storage.cfg keeps only that); the key sits in a root-only file. */
  encryptionKeyFingerprint?: string;
  /** PBS: a recovery key was given (`master-pubkey`). */
  masterPubkey?: boolean;
  /** Whether a password file exists for it (`/etc/pve/priv/storage/<id>.pw`); never the password. */
  hasPassword?: boolean;
  volumes: Map<string, SimVolume>;
}

/** Everything the simulated host holds. `version` moves on every change (response caches key on it). */
export class SimState {
  readonly guests = new Map<number, CtGuest>();
  readonly storages = new Map<string, SimStorage>();
  version = 0;

  constructor(seed: PveSeed, now: number, nextPid: () => number) {
    for (const s of seed.storages) {
      const volumes = new Map<string, SimVolume>();
      for (const v of s.volumes ?? []) volumes.set(v.volid, { ...v });
      this.storages.set(s.storage, {
        storage: s.storage,
        type: s.type,
        content: [...s.content],
        ...(s.path === undefined ? {} : { path: s.path }),
        ...(s.vgname === undefined ? {} : { vgname: s.vgname }),
        ...(s.thinpool === undefined ? {} : { thinpool: s.thinpool }),
        shared: s.shared ?? false,
        total: s.total,
        baseUsed: s.baseUsed ?? 0,
        ...(s.pruneBackups === undefined ? {} : { pruneBackups: s.pruneBackups }),
        volumes,
      });
    }
    for (const g of seed.guests) {
      const config = normalizeConfig(g.config);
      const running = g.status === "running";
      const guest: CtGuest = {
        vmid: g.vmid,
        running,
        config,
        pending: {},
        pendingDelete: new Set(),
        snapshots: new Map(),
        ...(g.parent === undefined ? {} : { parent: g.parent }),
        ...(running ? { startedAtMs: now - 3_600_000, pid: nextPid() } : {}),
      };
      for (const s of g.snapshots ?? []) {
        guest.snapshots.set(s.name, {
          name: s.name,
          description: s.description ?? "",
          snaptime: s.snaptime ?? Math.floor(now / 1000),
          ...(s.parent === undefined ? {} : { parent: s.parent }),
          config: normalizeConfig(s.config ?? g.config),
        });
      }
      this.guests.set(g.vmid, guest);
    }
  }

  touch(): void {
    this.version++;
  }

  /** SHA-1 over the whole config "file", as PVE's digest is (docs/proxmox-behaviour.md#endpoint-summary: always present). */
  digest(g: CtGuest): string {
    const h = createHash("sha1");
    h.update(JSON.stringify(g.config));
    h.update(JSON.stringify(g.pending));
    h.update(JSON.stringify([...g.pendingDelete]));
    for (const s of g.snapshots.values()) h.update(JSON.stringify(s));
    return h.digest("hex");
  }

  /** SHA-1 over storage.cfg: one digest for the whole file, as PVE's SectionConfig has. */
  storageDigest(): string {
    const h = createHash("sha1");
    for (const s of this.storages.values()) {
      const { volumes: _volumes, ...config } = s;
      h.update(JSON.stringify(config));
    }
    return h.digest("hex");
  }

  /** Bytes used on a storage: its base usage plus its volumes. */
  used(s: SimStorage): number {
    let used = s.baseUsed;
    for (const v of s.volumes.values()) used += v.size;
    return Math.min(used, s.total);
  }

  findVolume(volid: string): { storage: SimStorage; volume: SimVolume } | undefined {
    const storage = this.storages.get(volid.slice(0, volid.indexOf(":")));
    const volume = storage?.volumes.get(volid);
    return storage && volume ? { storage, volume } : undefined;
  }
}

function normalizeConfig(input: Record<string, string | number>): CtConfig {
  const out: CtConfig = {};
  for (const [k, v] of Object.entries(input)) {
    if (k === "description" && typeof v === "string") {
      const d = storedDescription(v);
      if (d !== undefined) out[k] = d;
    } else {
      out[k] = v;
    }
  }
  return out;
}
