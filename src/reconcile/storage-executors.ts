import { createHash } from "node:crypto";
import type { SealedSecret } from "../ops/params/sealed.ts";
import {
  type StorageAddParams,
  type StorageRemoveParams,
  storageAddParams,
  storageRemoveParams,
} from "../ops/params/storage.ts";
import {
  type StorageTarget,
  targetIdentity,
  USB_MOUNT_ROOT,
  usbMountpoint,
} from "../ops/params/storage-target.ts";
import type { OpName } from "../ops/types.ts";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { CreateStorageParams, ProxmoxClient } from "../proxmox/client-types.ts";
import type { Privileged } from "../proxmox/privileged.ts";
import type { StorageConfigEntry } from "../proxmox/schema-storage.ts";
import type { Journal } from "../store/journal.ts";
import { type TunnelTokenFile, tunnelConfigure } from "./tunnel-executor.ts";

/**
 * Host-level operations that call Proxmox (docs/reconcile.md#host-operations): unlike the
 * store-only ones in host-executors.ts they have steps in flight a crash can interrupt. Each
 * is journaled intent → terminal; a restart settles an entry left at `intent` by reading
 * Proxmox (`inEffect`), never by sending again, so a crash at any step ends with exactly one
 * storage.
 */
export interface HostOpDeps {
  client: Pick<ProxmoxClient, "createStorage" | "deleteStorage" | "listStorage">;
  /** The root side; without it a USB target cannot be mounted and its add fails. */
  privileged?: Pick<Privileged, "mountUSBByUUID">;
  /** Opens a secret sealed to this host's key; throws when the host has none. */
  openSecret(secret: SealedSecret): string;
  /** Storage ids the desired state backs up to, with who uses each. */
  storageReferences(): ReadonlyMap<string, readonly string[]>;
  /** The journal, for the UUID a USB target was attached with (set by the engine). */
  journal?: Pick<Journal, "forHost">;
  /** Where `tunnel.configure` writes the token; without it the operation fails. */
  tunnelToken?: TunnelTokenFile;
}

/** The instant between two steps of a host operation (tests stop the process there). */
export type HostStep = "prepared" | "post_returned";

export interface ApiHostExecutor<P> {
  parseParams(raw: unknown): P;
  /** Runs the operation; `step` is awaited after each step that changed something. */
  run(
    deps: HostOpDeps,
    params: P,
    step: (point: HostStep) => Promise<void>,
  ): Promise<Record<string, unknown>>;
  /** Whether Proxmox already shows the operation's effect (recovery, lost answers). */
  inEffect(deps: HostOpDeps, params: P): Promise<boolean>;
  /** What the operation is about (a storage id, `tunnel`), for log lines. */
  subject(params: P): string;
}

/** A storage the remove would cut off is still used for backups; nothing was changed. */
export class StorageInUseError extends Error {
  override readonly name = "StorageInUseError";
  constructor(
    readonly storage: string,
    readonly users: readonly string[],
  ) {
    super(
      `storage '${storage}' is still used by ${users.join(", ")}; point those elsewhere in the desired state first`,
    );
  }
}

/** The id is taken by a storage with another identity; only a signed remove may free it. */
export class StorageIdentityError extends Error {
  override readonly name = "StorageIdentityError";
  constructor(readonly storage: string) {
    super(
      `storage '${storage}' already exists with another identity; a signed storage.remove must come first`,
    );
  }
}

/** What a PVE storage.cfg entry says a target is, in the manifest's identity terms. */
export function configuredIdentity(e: StorageConfigEntry): Record<string, string> | undefined {
  switch (e.type) {
    case "dir": {
      // Only our own USB mounts count; any other dir storage is not a target of ours.
      const mp = e.path;
      if (mp === undefined || !mp.startsWith(`${USB_MOUNT_ROOT}/`)) return undefined;
      return { kind: "usb", mountpoint: mp };
    }
    case "nfs":
      return { kind: "nfs", server: e.server ?? "", export: e.export ?? "" };
    case "cifs":
      return {
        kind: "cifs",
        server: e.server ?? "",
        share: e.share ?? "",
        username: e.username ?? "",
      };
    case "pbs":
      return {
        kind: "pbs",
        server: e.server ?? "",
        datastore: e.datastore ?? "",
        fingerprint: (e.fingerprint ?? "").toUpperCase(),
        namespace: e.namespace ?? "",
      };
    default:
      return undefined;
  }
}

/**
 * Whether a configured storage is this target. A USB target's UUID is not in storage.cfg;
 * its mount point is (`/mnt/felhom/<id>`), and the UUID the agent attached there is in the
 * journal (`attachedUuid`): another UUID under the same id is another target.
 */
export function sameTarget(
  id: string,
  t: StorageTarget,
  e: StorageConfigEntry,
  attachedUuid?: string,
): boolean {
  const have = configuredIdentity(e);
  if (have === undefined) return false;
  if (t.kind === "usb" && attachedUuid !== undefined && attachedUuid !== t.fs_uuid.toLowerCase()) {
    return false;
  }
  const want =
    t.kind === "usb" ? { kind: "usb", mountpoint: usbMountpoint(id) } : targetIdentity(t);
  const keys = new Set([...Object.keys(want), ...Object.keys(have)]);
  for (const k of keys) if ((want as Record<string, string>)[k] !== have[k]) return false;
  return true;
}

/**
 * The filesystem UUID of the last USB target the agent added under `id` (a `done`
 * storage.add in the journal), lower case; undefined when it added none.
 */
export function attachedUsbUuid(journal: Pick<Journal, "forHost">, id: string): string | undefined {
  for (const e of journal.forHost(1000)) {
    if (e.op !== "storage.add" || e.phase !== "done" || e.vmid !== null) continue;
    const p = e.params as { id?: unknown; kind?: unknown; fs_uuid?: unknown };
    if (p.id === id && p.kind === "usb" && typeof p.fs_uuid === "string") {
      return p.fs_uuid.toLowerCase();
    }
  }
  return undefined;
}

function targetOf(p: StorageAddParams): StorageTarget {
  const { id: _id, ...target } = p;
  return target as StorageTarget;
}

const usbUuid = (deps: HostOpDeps, id: string) =>
  deps.journal ? attachedUsbUuid(deps.journal, id) : undefined;

async function configured(deps: HostOpDeps, id: string): Promise<StorageConfigEntry | undefined> {
  return (await deps.client.listStorage()).find((e) => e.storage === id);
}

/** `POST /storage` body for a target (docs/proxmox-behaviour.md#storage-create). */
function createBody(deps: HostOpDeps, p: StorageAddParams): CreateStorageParams {
  switch (p.kind) {
    case "usb":
      // The mount point must never be created by PVE on the root disk, and the storage is
      // offline while the disk is not mounted (docs/proxmox-behaviour.md#storage-activation).
      return {
        storage: p.id,
        type: "dir",
        path: usbMountpoint(p.id),
        content: "backup",
        is_mountpoint: "yes",
        "create-base-path": 0,
      };
    case "nfs":
      return {
        storage: p.id,
        type: "nfs",
        server: p.server,
        export: p.export,
        content: "backup",
        options: "vers=4.2",
      };
    case "cifs":
      return {
        storage: p.id,
        type: "cifs",
        server: p.server,
        share: p.share,
        username: p.username,
        ...(p.password !== undefined ? { password: deps.openSecret(p.password) } : {}),
        smbversion: "3",
        content: "backup",
      };
    case "pbs":
      return {
        storage: p.id,
        type: "pbs",
        server: p.server,
        datastore: p.datastore,
        username: p.username,
        password: deps.openSecret(p.password),
        fingerprint: p.fingerprint,
        ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
        content: "backup",
        // PVE generates the key and keeps it root-only; `master-pubkey` makes every backup
        // carry a copy wrapped to the customer's recovery key (docs/proxmox-behaviour.md#pbs-client-side-encryption).
        "encryption-key": "autogen",
        ...(p.master_pubkey !== undefined ? { "master-pubkey": p.master_pubkey } : {}),
      };
  }
}

/**
 * The fingerprint of a generated PBS key (the key file's own `fingerprint`, else SHA-256 of
 * its `data`): the only part of the key the agent keeps, logs or reports.
 */
export function keyFingerprint(keyJson: string): string | undefined {
  try {
    const k = JSON.parse(keyJson) as { fingerprint?: unknown; data?: unknown };
    if (typeof k.fingerprint === "string") return k.fingerprint;
    if (typeof k.data === "string") {
      return createHash("sha256").update(k.data).digest("hex").match(/../g)?.join(":");
    }
  } catch {
    return undefined;
  }
  return undefined;
}

const storageAdd: ApiHostExecutor<StorageAddParams> = {
  parseParams: (raw) => storageAddParams.parse(raw),
  subject: (p) => p.id,
  async run(deps, p, step) {
    const existing = await configured(deps, p.id);
    if (existing !== undefined) {
      if (sameTarget(p.id, targetOf(p), existing, usbUuid(deps, p.id))) {
        return { storage: p.id, kind: p.kind, already: true };
      }
      throw new StorageIdentityError(p.id);
    }
    if (p.kind === "usb") {
      if (deps.privileged === undefined) {
        throw new Error("no privileged runner is configured, so a USB disk cannot be mounted");
      }
      await deps.privileged.mountUSBByUUID({
        uuid: p.fs_uuid,
        mountpoint: usbMountpoint(p.id),
        persist: true,
      });
      await step("prepared");
    }
    let created: Awaited<ReturnType<HostOpDeps["client"]["createStorage"]>>;
    try {
      created = await deps.client.createStorage(createBody(deps, p));
    } catch (err) {
      // Sent twice (an earlier answer was lost): it is ours when the identity matches.
      if (err instanceof ProxmoxApiError && /already defined/.test(err.pveMessage)) {
        const now = await configured(deps, p.id);
        if (now !== undefined && sameTarget(p.id, targetOf(p), now, usbUuid(deps, p.id))) {
          return { storage: p.id, kind: p.kind, already: true };
        }
      }
      throw err;
    }
    await step("post_returned");
    const fingerprint =
      created.encryptionKey !== undefined ? keyFingerprint(created.encryptionKey) : undefined;
    return {
      storage: p.id,
      kind: p.kind,
      ...(p.kind === "usb" ? { mountpoint: usbMountpoint(p.id) } : {}),
      ...(fingerprint !== undefined ? { encryption_key_fingerprint: fingerprint } : {}),
      ...(p.kind === "pbs"
        ? { key_escrow: p.master_pubkey !== undefined ? "master-pubkey" : "none" }
        : {}),
    };
  },
  async inEffect(deps, p) {
    const e = await configured(deps, p.id);
    return e !== undefined && sameTarget(p.id, targetOf(p), e, usbUuid(deps, p.id));
  },
};

const storageRemove: ApiHostExecutor<StorageRemoveParams> = {
  parseParams: (raw) => storageRemoveParams.parse(raw),
  subject: (p) => p.id,
  async run(deps, p, step) {
    const users = deps.storageReferences().get(p.id);
    if (users !== undefined && users.length > 0) throw new StorageInUseError(p.id, users);
    try {
      await deps.client.deleteStorage(p.id);
    } catch (err) {
      if (err instanceof ProxmoxApiError && /does not exist/.test(err.pveMessage)) {
        return { storage: p.id, already: true };
      }
      throw err;
    }
    await step("post_returned");
    // The disk stays mounted: unmounting is not one of the three root operations.
    return { storage: p.id };
  },
  async inEffect(deps, p) {
    return (await configured(deps, p.id)) === undefined;
  },
};

const API_HOST_EXECUTORS: Partial<Record<OpName, ApiHostExecutor<unknown>>> = {
  "storage.add": storageAdd as ApiHostExecutor<unknown>,
  "storage.remove": storageRemove as ApiHostExecutor<unknown>,
  "tunnel.configure": tunnelConfigure as ApiHostExecutor<unknown>,
};

export function apiHostExecutorFor(op: string): ApiHostExecutor<unknown> | undefined {
  return Object.hasOwn(API_HOST_EXECUTORS, op) ? API_HOST_EXECUTORS[op as OpName] : undefined;
}
