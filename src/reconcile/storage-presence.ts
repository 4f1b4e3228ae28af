import { type StorageTarget, usbMountpoint } from "../ops/params/storage-target.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { MountProbe } from "../proxmox/mount-probe.ts";
import type { NodeStorage } from "../proxmox/schema-storage.ts";
import type { PendingOps } from "../store/pending.ts";
import type { PresenceObservation, StoragePresence } from "../store/storage-presence.ts";

/**
 * One backup target as the report and `felhom-agent storage list` show it
 * (docs/desired-state.md#storage-targets).
 */
export interface TargetStatus {
  id: string;
  kind: StorageTarget["kind"] | "other";
  /** Named in the desired state's `storage_targets`. */
  managed: boolean;
  /** Defined in Proxmox and, for USB, its disk attached and mounted. */
  present: boolean;
  /** Proxmox can use it now (`active` in GET /nodes/{node}/storage). */
  active: boolean;
  /** Free space as a percentage of the total; null while inactive. */
  avail_pct: number | null;
  /** When present/active last changed (ISO 8601); null for a target never looked at. */
  since: string | null;
  /** What to do about it, when it is not usable; null when it is. */
  reason: string | null;
}

export interface PresenceSources {
  client: Pick<ProxmoxClient, "nodeStorage" | "listStorage">;
  mounts?: MountProbe;
  /** The manifest; absent = none received yet (every backup storage is then unmanaged). */
  targets: ReadonlyMap<string, StorageTarget> | undefined;
  /** Records transitions (one audit row each) with `observe`; without it, only read (the CLI). */
  presence?: Pick<StoragePresence, "get"> & Partial<Pick<StoragePresence, "observe">>;
  /**
   * Targets whose `storage.add` waits for an operator's signature (a network target is
   * destructive to add, src/gate/README.md): shown as waiting for it, not as merely missing.
   */
  held?: ReadonlySet<string>;
  signal?: AbortSignal;
}

/** The ids of targets whose `storage.add` is held as `pending_signature`. */
export function heldStorageAdds(pending: Pick<PendingOps, "list">): Set<string> {
  const ids = new Set<string>();
  for (const op of pending.list({ status: "pending" })) {
    if (op.op !== "storage.add" || typeof op.params !== "object" || op.params === null) continue;
    const id = (op.params as { id?: unknown }).id;
    if (typeof id === "string") ids.add(id);
  }
  return ids;
}

const NOT_DEFINED = "not defined in Proxmox yet (storage.add pending)";
const AWAITING_SIGNATURE =
  "waiting for an operator's signature (storage.add held; see felhom-agent pending list)";

const KIND_OF_TYPE: Record<string, TargetStatus["kind"]> = {
  nfs: "nfs",
  cifs: "cifs",
  pbs: "pbs",
};

function availPct(s: NodeStorage | undefined): number | null {
  if (s?.active !== true || !s.totalBytes || s.availBytes === undefined) return null;
  return Math.round((s.availBytes / s.totalBytes) * 1000) / 10;
}

async function lookAt(
  id: string,
  t: StorageTarget,
  status: NodeStorage | undefined,
  defined: boolean,
  mounts: MountProbe | undefined,
  held: boolean,
): Promise<PresenceObservation> {
  const undefinedReason = held ? AWAITING_SIGNATURE : NOT_DEFINED;
  const active = status?.active === true;
  if (t.kind === "usb") {
    const probe = mounts ? await mounts.usb(t.fs_uuid, usbMountpoint(id)) : undefined;
    const attached = probe?.attached ?? active;
    const mounted = probe?.mounted ?? active;
    if (!attached) {
      return {
        storage: id,
        present: false,
        active: false,
        reason: `USB disk ${t.fs_uuid} not attached`,
      };
    }
    if (!mounted) {
      return {
        storage: id,
        present: false,
        active: false,
        reason: `USB disk ${t.fs_uuid} attached but not mounted at ${usbMountpoint(id)}`,
      };
    }
    if (!defined) {
      return {
        storage: id,
        present: false,
        active: false,
        reason: undefinedReason,
      };
    }
    return {
      storage: id,
      present: true,
      active,
      reason: active ? null : "Proxmox cannot activate the storage; see the node's storage status",
    };
  }
  if (!defined) {
    return {
      storage: id,
      present: false,
      active: false,
      reason: undefinedReason,
    };
  }
  if (!active) {
    const what = t.kind === "pbs" ? "Proxmox Backup Server" : `${t.kind.toUpperCase()} server`;
    return { storage: id, present: false, active: false, reason: `${what} ${t.server} not online` };
  }
  return { storage: id, present: true, active: true, reason: null };
}

/**
 * The manifest against `GET /nodes/{node}/storage` (and for USB the mount table), every report
 * cycle. Each managed target's transition is recorded (one audit row each) when `presence` is
 * given. Network and PBS storages the manifest does not name are listed as unmanaged.
 */
export async function checkTargets(s: PresenceSources): Promise<TargetStatus[]> {
  const o = s.signal ? { signal: s.signal } : {};
  const [status, config] = await Promise.all([s.client.nodeStorage(o), s.client.listStorage(o)]);
  const byId = new Map(status.map((n) => [n.storage, n]));
  const defined = new Set(config.map((c) => c.storage));
  const out: TargetStatus[] = [];
  for (const [id, t] of s.targets ?? []) {
    const held = s.held?.has(id) ?? false;
    const seen = await lookAt(id, t, byId.get(id), defined.has(id), s.mounts, held);
    const recorded = s.presence?.observe?.(seen).row ?? s.presence?.get(id);
    out.push({
      id,
      kind: t.kind,
      managed: true,
      present: seen.present,
      active: seen.active,
      avail_pct: seen.active ? availPct(byId.get(id)) : null,
      since: recorded ? new Date(recorded.since).toISOString() : null,
      reason: seen.reason,
    });
  }
  for (const c of config) {
    if (s.targets?.has(c.storage)) continue;
    const kind = c.type !== undefined ? KIND_OF_TYPE[c.type] : undefined;
    const backup = c.content.includes("backup");
    if (kind === undefined && !backup) continue;
    const n = byId.get(c.storage);
    out.push({
      id: c.storage,
      kind: kind ?? "other",
      managed: false,
      present: true,
      active: n?.active === true,
      avail_pct: availPct(n),
      since: null,
      reason: "not in the desired state's storage_targets; left alone",
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
