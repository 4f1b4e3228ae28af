import type { BackupPolicy } from "../ops/params/backup-policy.ts";
import type { StorageTarget } from "../ops/params/storage-target.ts";
import { type DesiredStateDocument, desiredStateSchema } from "./desired-schema.ts";

export const MIB = 1024 * 1024;

export type RunState = "running" | "stopped";

/** One guest's target, inside the trust boundary. An absent field is unmanaged. */
export interface DesiredGuestSpec {
  vmid: number;
  run?: RunState;
  cores?: number;
  /** Whole MiB, the unit of LXC `memory` (docs/proxmox-behaviour.md#units). */
  memoryMiB?: number;
  description?: string;
  maxCores?: number;
  maxMemoryMiB?: number;
  /** Largest size one disk may be grown to unsigned, GiB (the gate reads it). */
  maxDiskGiB?: number;
  /** Storage id for this guest's backups (overrides the host-level one). */
  backupStorage?: string;
}

/** The desired state of the host's guests: only the guests it names are managed. */
export interface DesiredHostState {
  guests: ReadonlyMap<number, DesiredGuestSpec>;
  /** Storage id for backups of guests that name none. */
  backupStorage?: string;
  /** Backup targets by PVE storage id; only those named are managed (docs/desired-state.md#storage-targets). */
  storageTargets?: ReadonlyMap<string, StorageTarget>;
  /** The backup policy the document asks for (docs/desired-state.md#backup-policy). */
  backupPolicy?: BackupPolicy;
  /**
   * When this document was received (ms). A newer document lifts every give-up: actions the
   * reconciler stopped retrying are tried afresh against it.
   */
  receivedAt?: number;
  /** Where the persisted document came from (`hub`, `file:/etc/…`), when read from the cache. */
  source?: string;
  /** The hub's ETag of the document, when it came from the hub. */
  etag?: string;
}

/**
 * Bytes to the MiB PVE will store. Rounded up so the guest gets at least what was asked for,
 * and so that the next pass compares equal: PVE cannot hold a fractional MiB (docs/proxmox-behaviour.md#units).
 */
export function canonicalMemoryMiB(bytes: number): number {
  return Math.ceil(bytes / MIB);
}

export class DesiredStateError extends Error {
  override readonly name = "DesiredStateError";
  constructor(
    /** Where the document came from (`file:/etc/…`, `hub`, `cache`). */
    readonly source: string,
    /** `path: message` per problem found. */
    readonly issues: readonly string[],
  ) {
    super(`desired state from ${source} is invalid: ${issues.join("; ")}`);
  }
}

/** Validates a document (already JSON-parsed) and converts it to the internal form. */
export function parseDesiredDocument(value: unknown, source: string): DesiredHostState {
  const parsed = desiredStateSchema.safeParse(value);
  if (!parsed.success) {
    throw new DesiredStateError(
      source,
      parsed.error.issues.map((i) => {
        const at = i.path.map(String).join(".") || "(document)";
        // zod reports a bad record key without the key schema's own message.
        const message =
          i.code === "invalid_key"
            ? "guest keys are vmids (100..999999999) written as strings"
            : i.message;
        return `${at}: ${message}`;
      }),
    );
  }
  return fromDocument(parsed.data);
}

/** Parses JSON text (a file, the store's cache) into the internal form. */
export function parseDesiredText(text: string, source: string): DesiredHostState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DesiredStateError(source, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseDesiredDocument(value, source);
}

function fromDocument(doc: DesiredStateDocument): DesiredHostState {
  const guests = new Map<number, DesiredGuestSpec>();
  for (const [key, g] of Object.entries(doc.guests)) {
    const vmid = Number(key);
    const spec: DesiredGuestSpec = { vmid };
    if (g.run !== undefined) spec.run = g.run;
    if (g.cores !== undefined) spec.cores = g.cores;
    if (g.memory_mib !== undefined) spec.memoryMiB = g.memory_mib;
    if (g.memory_bytes !== undefined) spec.memoryMiB = canonicalMemoryMiB(g.memory_bytes);
    if (g.description !== undefined) spec.description = g.description;
    if (g.max_cores !== undefined) spec.maxCores = g.max_cores;
    if (g.max_memory_mib !== undefined) spec.maxMemoryMiB = g.max_memory_mib;
    if (g.max_disk_gib !== undefined) spec.maxDiskGiB = g.max_disk_gib;
    if (g.backup_storage !== undefined) spec.backupStorage = g.backup_storage;
    guests.set(vmid, spec);
  }
  return {
    guests,
    ...(doc.backup_storage !== undefined ? { backupStorage: doc.backup_storage } : {}),
    ...(doc.backup_policy !== undefined ? { backupPolicy: doc.backup_policy } : {}),
    ...(doc.storage_targets !== undefined
      ? { storageTargets: new Map(Object.entries(doc.storage_targets)) }
      : {}),
  };
}

/** True when the guest's target needs its config read (anything beyond the run state). */
export function needsConfig(spec: DesiredGuestSpec): boolean {
  return spec.cores !== undefined || spec.memoryMiB !== undefined || spec.description !== undefined;
}

/** Storage ids something in the desired state backs up to, with who uses each (storage.remove refuses those). */
export function storageReferences(desired: DesiredHostState | undefined): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  const add = (id: string, who: string) => refs.set(id, [...(refs.get(id) ?? []), who]);
  if (desired?.backupStorage !== undefined) add(desired.backupStorage, "the host's backup_storage");
  for (const g of desired?.guests.values() ?? []) {
    if (g.backupStorage !== undefined) add(g.backupStorage, `guest ${g.vmid}'s backup_storage`);
  }
  return refs;
}
