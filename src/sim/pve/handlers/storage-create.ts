import { createHash, randomBytes } from "node:crypto";
import type { RequestContext } from "../context.ts";
import { strParam } from "../context.ts";
import { fail } from "../errors.ts";
import type { SimHostFs } from "../host-fs.ts";
import type { SimStorage } from "../state.ts";

/** The storage types the simulator can create; the schema accepts many more. */
const CREATABLE = new Set(["dir", "nfs", "cifs", "pbs"]);
/** Per type, the options the simulator models beyond `storage` and `type`. */
const OPTIONS: Record<string, readonly string[]> = {
  dir: [
    "path",
    "content",
    "is_mountpoint",
    "create-base-path",
    "create-subdirs",
    "disable",
    "prune-backups",
  ],
  nfs: ["server", "export", "path", "content", "options", "disable", "prune-backups"],
  cifs: [
    "server",
    "share",
    "username",
    "password",
    "smbversion",
    "domain",
    "path",
    "content",
    "options",
    "disable",
    "prune-backups",
  ],
  pbs: [
    "server",
    "datastore",
    "username",
    "password",
    "fingerprint",
    "namespace",
    "encryption-key",
    "master-pubkey",
    "port",
    "content",
    "disable",
    "prune-backups",
  ],
};
const REQUIRED: Record<string, readonly string[]> = {
  dir: ["path"],
  nfs: ["server", "export"],
  cifs: ["server", "share"],
  pbs: ["server", "datastore"],
};

const yes = (v: unknown) => v === true || v === 1 || v === "1" || v === "yes" || v === "on";

/**
 * Whether PVE's `activate_storage` would succeed now (docs/proxmox-behaviour.md#storage-activation):
 * an `is_mountpoint` directory must be mounted, a network storage's server must answer. The
 * error text is PVE's. Undefined = active.
 */
export function activationError(s: SimStorage, fs: SimHostFs): string | undefined {
  if (s.disabled) return undefined;
  if (s.type === "dir" && s.isMountpoint && s.path !== undefined) {
    if (fs.mountedAt(s.path) === undefined) {
      return `unable to activate storage '${s.storage}' - directory is expected to be a mount point but is not mounted: '${s.path}'`;
    }
  }
  if ((s.type === "nfs" || s.type === "cifs" || s.type === "pbs") && s.server !== undefined) {
    if (!fs.serverOnline(s.server)) return `storage '${s.storage}' is not online`;
  }
  return undefined;
}

/** A PBS key file as `proxmox-backup-client key create --kdf none` writes it (the shape, not a real key). */
function autogenKey(now: Date): { json: string; fingerprint: string } {
  const data = randomBytes(32);
  const fingerprint = createHash("sha256")
    .update(data)
    .digest("hex")
    .slice(0, 64)
    .match(/../g)
    ?.join(":") as string;
  const created = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const json = JSON.stringify({
    kdf: null,
    created,
    modified: created,
    data: data.toString("base64"),
    fingerprint,
  });
  return { json, fingerprint };
}

/**
 * POST /storage (pve-storage `API2/Storage/Config.pm` create): `Datastore.Allocate` on
 * `/storage` (the route checks it); synchronous; inside the storage.cfg lock every failure is a
 * 500 prefixed `create storage failed: `. An existing id is refused; the new storage is
 * activated before the config is written, and a failed activation fails the create and leaves
 * nothing behind. `encryption-key=autogen` answers the generated key once, in `config`.
 */
export function createStorage(ctx: RequestContext): unknown {
  const { state } = ctx.core;
  const fs = ctx.core.hostFs;
  const id = strParam(ctx, "storage") ?? "";
  const type = strParam(ctx, "type") ?? "";
  const inLock = (message: string) => fail(`create storage failed: ${message}`);
  if (!CREATABLE.has(type)) throw fail(`the simulator does not model storage type '${type}'`);
  const allowed = new Set(["storage", "type", ...(OPTIONS[type] ?? [])]);
  // check_config, before the lock: plain 500s without the prefix.
  for (const k of Object.keys(ctx.params)) {
    if (!allowed.has(k)) throw fail(`unexpected property '${k}'`);
  }
  for (const k of REQUIRED[type] ?? []) {
    if (ctx.params[k] === undefined) throw fail(`missing value for required option '${k}'`);
  }
  if (state.storages.has(id)) throw inLock(`storage ID '${id}' already defined`);
  if (ctx.params["master-pubkey"] !== undefined && ctx.params["encryption-key"] === undefined) {
    throw inLock("'master-pubkey' can only be used together with 'encryption-key'");
  }
  const str = (k: string) => strParam(ctx, k);
  const s: SimStorage = {
    storage: id,
    type,
    // PVE's defaults when `content` is omitted: no `backup` except on PBS.
    content: (
      str("content") ?? (type === "pbs" ? "backup" : type === "dir" ? "images,rootdir" : "images")
    ).split(","),
    path: type === "dir" ? (str("path") as string) : (str("path") ?? `/mnt/pve/${id}`),
    shared: type !== "dir",
    total: 2 * 1024 ** 4,
    baseUsed: 256 * 1024 ** 3,
    volumes: new Map(),
    ...(yes(ctx.params.is_mountpoint) ? { isMountpoint: true } : {}),
    ...(yes(ctx.params.disable) ? { disabled: true } : {}),
  };
  for (const k of [
    "server",
    "export",
    "share",
    "username",
    "datastore",
    "fingerprint",
    "namespace",
    "options",
    "smbversion",
  ] as const) {
    const v = str(k);
    if (v !== undefined) s[k] = v;
  }
  if (str("prune-backups") !== undefined) s.pruneBackups = str("prune-backups");
  if (type === "pbs") s.path = undefined;
  if (str("password") !== undefined) s.hasPassword = true;
  const activation = activationError(s, fs);
  if (activation !== undefined) throw inLock(activation);
  let config: Record<string, string> | undefined;
  const key = str("encryption-key");
  if (key === "autogen") {
    const generated = autogenKey(new Date(ctx.core.clock.now()));
    s.encryptionKeyFingerprint = generated.fingerprint;
    config = { "encryption-key": generated.json };
  } else if (key !== undefined) {
    let parsed: { data?: unknown } | undefined;
    try {
      parsed = JSON.parse(key) as { data?: unknown };
    } catch {
      parsed = undefined;
    }
    if (typeof parsed?.data !== "string") {
      throw inLock("Value does not seems like a valid, JSON formatted encryption key!");
    }
    s.encryptionKeyFingerprint = createHash("sha256")
      .update(parsed.data)
      .digest("hex")
      .match(/../g)
      ?.join(":");
  }
  if (str("master-pubkey") !== undefined) s.masterPubkey = true;
  if (s.path === undefined) delete s.path;
  state.storages.set(id, s);
  state.touch();
  return { storage: id, type, ...(config ? { config } : {}) };
}

/**
 * DELETE /storage/{storage}: the definition goes, the data stays (no volume is touched).
 * A missing id is `delete storage failed: storage '<id>' does not exist`.
 */
export function deleteStorage(ctx: RequestContext): unknown {
  const { state } = ctx.core;
  const id = strParam(ctx, "storage") ?? "";
  if (!state.storages.has(id)) throw fail(`delete storage failed: storage '${id}' does not exist`);
  state.storages.delete(id);
  state.touch();
  return null;
}
