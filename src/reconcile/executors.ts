import { z } from "zod";
import { type AgentProvenance, agentProvenance } from "../gate/provenance.ts";
import type { OpOrigin } from "../ops/types.ts";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { LxcConfigUpdate, ProxmoxClient } from "../proxmox/client-types.ts";
import { normalizeDescription } from "../proxmox/description.ts";
import { parseUpid } from "../proxmox/upid.ts";
import type { GuestConfigParams, ShutdownParams } from "./actions.ts";
import { PVE_DEFAULT_MEMORY_MIB } from "./planner.ts";

export type ExecClient = Pick<
  ProxmoxClient,
  | "start"
  | "stop"
  | "shutdown"
  | "setConfig"
  | "guestConfig"
  | "guestStatus"
  | "snapshot"
  | "rollback"
  | "deleteSnapshot"
  | "vzdump"
  | "resize"
  | "destroy"
  | "restoreLXC"
  | "storageContent"
  | "taskLogTail"
>;

export interface SnapshotParams {
  name: string;
  description?: string;
}

export interface SnapshotDeleteParams {
  name: string;
  /** Removes a snapshot stuck half-deleted (snapstate `delete`, docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  force?: boolean;
}

export interface BackupParams {
  storage: string;
  mode?: "snapshot" | "suspend" | "stop";
  compress?: "0" | "1" | "gzip" | "lzo" | "zstd";
  notesTemplate?: string;
  protected?: boolean;
  /**
   * Prune older backups by the retention (the storage's, unless `pruneBackups` names one): the
   * gate treats it as destructive. Absent, the agent sends `remove=0`
   * (docs/proxmox-behaviour.md#vzdump-remove).
   */
  remove?: boolean;
  /**
   * The retention for this call, a PVE `prune-backups` string. Absent, the agent sends
   * `keep-all=1`, so the storage's retention neither prunes nor refuses the backup; anything
   * else is destructive at the gate.
   */
  pruneBackups?: string;
}

export interface ResizeGrowParams {
  disk: string;
  /** Growth only: `+N[KMGT]` (docs/proxmox-behaviour.md#units). */
  size: string;
  digest?: string;
}

export interface DestroyGuestParams {
  force?: boolean;
  purge?: boolean;
  destroyUnreferencedDisks?: boolean;
}

/** A guest from a vzdump archive (docs/proxmox-behaviour.md#lxc-restore-from-archive); `guest.restore` replaces an existing one. */
export interface ProvisionParams {
  archive: string;
  storage?: string;
  hostname?: string;
  unique?: boolean;
  start?: boolean;
  unprivileged?: boolean;
  pool?: string;
  cores?: number;
  memoryMiB?: number;
  swapMiB?: number;
  description?: string;
  net?: Record<string, string>;
  tags?: string[];
  force?: boolean;
}

/** The params of every operation this agent can execute, by operation name. */
export interface OpParams {
  "guest.start": Record<string, never>;
  "guest.stop": Record<string, never>;
  "guest.shutdown": ShutdownParams;
  "guest.config": GuestConfigParams;
  "guest.snapshot": SnapshotParams;
  "guest.rollback": { name: string };
  "guest.snapshot.delete": SnapshotDeleteParams;
  "guest.backup": BackupParams;
  "guest.resize": ResizeGrowParams;
  "guest.destroy": DestroyGuestParams;
  "guest.provision": ProvisionParams;
  "guest.restore": ProvisionParams;
}

export type ExecOp = keyof OpParams;

/** What an executor learns about the request besides its params. */
export interface ExecContext {
  origin: OpOrigin;
}

/**
 * How one operation kind is carried out against Proxmox. Recovery relies on `taskType` (to
 * find a task whose POST answer was lost) and `inEffect` (to learn whether a synchronous call
 * that left no task took effect), so no operation is ever re-POSTed blindly.
 */
export interface OpExecutor<K extends ExecOp> {
  /** Validates params from any origin (planner, local API, hub job); throws ZodError. */
  parseParams(raw: unknown): OpParams[K];
  /** The PVE task type of the worker it forks (docs/proxmox-behaviour.md#upid-format); null for a synchronous call (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
  taskType: string | null;
  /** The POST; a UPID for a task, null when PVE answered synchronously. */
  post(
    client: ExecClient,
    vmid: number,
    params: OpParams[K],
    signal?: AbortSignal,
  ): Promise<string | null>;
  /** Whether actual state already shows the change; needed when `taskType` is null. */
  inEffect?(client: ExecClient, vmid: number, params: OpParams[K]): Promise<boolean>;
  /** A synchronous refusal that means the guest is already as asked (docs/proxmox-behaviour.md#locks). */
  alreadyDone(err: unknown): boolean;
  /**
   * What the agent itself creates, journaled with the intent so the gate can later tell the
   * agent's own objects from the customer's (gate/provenance.ts). Never taken from params
   * claims: only the operation's own effect is recorded.
   */
  provenance?(vmid: number, params: OpParams[K], ctx: ExecContext): AgentProvenance;
  /** After the task ended well: what the requester is told (snapshot name, archive volid). */
  result?(
    client: ExecClient,
    vmid: number,
    params: OpParams[K],
    upid: string,
  ): Promise<Record<string, unknown>>;
}

const empty = z.strictObject({});
// PVE `pve-configid`-style names; `current` and `vzdump` are refused synchronously (docs/proxmox-behaviour.md#locks).
const snapshotName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{1,39}$/, "not a snapshot name")
  .refine((n) => n !== "current" && n !== "vzdump", "reserved snapshot name");
const storageId = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, "not a storage id");
const digest = z.string().regex(/^[0-9a-f]{1,64}$/, "not a config digest");
const configParams = z
  .strictObject({
    cores: z.number().int().min(1).max(8192).optional(),
    memoryMiB: z.number().int().min(16).optional(),
    swapMiB: z.number().int().min(0).optional(),
    description: z.string().max(8192).optional(),
    // `env` carries the one-time bootstrap code and is removed once traded (docs/architecture.md#provisioning-constraints).
    delete: z
      .array(z.enum(["description", "env"]))
      .min(1)
      .max(8)
      .optional(),
    digest: digest.optional(),
  })
  .refine(
    (p) => Object.keys(p).some((k) => k !== "digest"),
    "guest.config needs at least one change",
  );
const shutdownParams = z.strictObject({
  timeoutSec: z.number().int().min(0).max(3600).optional(),
  forceStop: z.boolean().optional(),
});
const snapshotParams = z.strictObject({
  name: snapshotName,
  description: z.string().max(8192).optional(),
});
const rollbackParams = z.strictObject({ name: snapshotName });
const snapshotDeleteParams = z.strictObject({ name: snapshotName, force: z.boolean().optional() });
/** PVE's `prune-backups` property string: `keep-all=1` or `keep-<period>=N`, comma-separated. */
const PRUNE_BACKUPS =
  /^keep-(all|last|hourly|daily|weekly|monthly|yearly)=\d{1,6}(,keep-(last|hourly|daily|weekly|monthly|yearly)=\d{1,6}){0,5}$/;
/**
 * The retention every backup carries unless a signed operation says otherwise: keep-all turns
 * vzdump's `remove` off and lifts the storage's limit for this call, so a backup never prunes
 * and is never refused for the count of older ones (docs/proxmox-behaviour.md#vzdump-remove).
 */
export const BACKUP_KEEP_ALL = "keep-all=1";
/**
 * The `prune-backups` a backup sends: keep-all unless a signed operation asked to prune, by a
 * retention it names or, with `remove: true` alone, by the storage's own.
 */
function backupRetention(p: BackupParams): { extra?: Record<string, string> } {
  const retention = p.pruneBackups ?? (p.remove === true ? undefined : BACKUP_KEEP_ALL);
  return retention === undefined ? {} : { extra: { "prune-backups": retention } };
}
const backupParams = z.strictObject({
  storage: storageId,
  mode: z.enum(["snapshot", "suspend", "stop"]).optional(),
  compress: z.enum(["0", "1", "gzip", "lzo", "zstd"]).optional(),
  notesTemplate: z.string().max(1024).optional(),
  protected: z.boolean().optional(),
  remove: z.boolean().optional(),
  pruneBackups: z.string().regex(PRUNE_BACKUPS, "not a prune-backups value").optional(),
});
const resizeParams = z.strictObject({
  disk: z.string().regex(/^(rootfs|mp\d{1,3})$/, "not a disk (rootfs, mp0…mp255)"),
  // Growth only: an absolute size could shrink (docs/proxmox-behaviour.md#units `[+]N[KMGT]`).
  size: z.string().regex(/^\+\d{1,12}(\.\d{1,6})?[KMGT]?$/, "not a growth ('+N[KMGT]')"),
  digest: digest.optional(),
});
const destroyParams = z.strictObject({
  force: z.boolean().optional(),
  purge: z.boolean().optional(),
  destroyUnreferencedDisks: z.boolean().optional(),
});
const provisionFields = {
  archive: z.string().min(1).max(512),
  storage: storageId.optional(),
  hostname: z.string().max(253).optional(),
  unique: z.boolean().optional(),
  start: z.boolean().optional(),
  unprivileged: z.boolean().optional(),
  pool: z.string().max(64).optional(),
  cores: z.number().int().min(1).max(8192).optional(),
  memoryMiB: z.number().int().min(16).optional(),
  swapMiB: z.number().int().min(0).optional(),
  description: z.string().max(8192).optional(),
  net: z.record(z.string().regex(/^net\d{1,2}$/), z.string().max(512)).optional(),
  tags: z.array(z.string().max(64)).max(32).optional(),
};
const provisionParams = z.strictObject({ ...provisionFields, force: z.literal(false).optional() });
const restoreParams = z.strictObject({ ...provisionFields, force: z.boolean().optional() });

function syncRefusal(err: unknown, text: RegExp): boolean {
  return err instanceof ProxmoxApiError && err.status === 500 && text.test(err.pveMessage);
}

const isRunning = async (c: ExecClient, vmid: number) =>
  (await c.guestStatus(vmid)).status === "running";

const opts = (signal?: AbortSignal) => (signal ? { signal } : {});

function restoreCall(
  c: ExecClient,
  vmid: number,
  p: ProvisionParams,
  force: boolean,
  signal?: AbortSignal,
): Promise<string> {
  const { force: _ignored, ...rest } = p;
  return c.restoreLXC({ vmid, ...rest, ...(force ? { force: true } : {}) }, opts(signal));
}

/**
 * The archive a vzdump task wrote: named in its log (`creating vzdump archive '…/<file>'`),
 * then looked up in the storage's content by that file name; else the newest backup of the
 * guest that appeared after the task started. Undefined when neither finds it.
 */
async function findArchive(
  c: ExecClient,
  vmid: number,
  storage: string,
  upid: string,
): Promise<string | undefined> {
  const log = await c.taskLogTail(upid, 50).catch(() => [] as string[]);
  const named = log
    .map((line) => /creating vzdump archive '(?:[^']*\/)?([^'/]+)'/.exec(line)?.[1])
    .find((f) => f !== undefined);
  const volumes = await c.storageContent(storage, { content: "backup", vmid });
  if (named !== undefined) {
    const hit = volumes.find((v) => v.volid.endsWith(`/${named}`) || v.volid.endsWith(`:${named}`));
    if (hit) return hit.volid;
  }
  const since = parseUpid(upid).starttime - 2;
  return volumes
    .filter((v) => v.vmid === vmid && (v.ctimeSec ?? 0) >= since)
    .sort((a, b) => (b.ctimeSec ?? 0) - (a.ctimeSec ?? 0))[0]?.volid;
}

/** A mapped type: adding an operation without an executor does not compile. */
export const EXECUTORS: { [K in ExecOp]: OpExecutor<K> } = {
  "guest.start": {
    parseParams: (raw) => empty.parse(raw) as OpParams["guest.start"],
    taskType: "vzstart",
    post: (c, vmid, _p, signal) => c.start(vmid, opts(signal)),
    inEffect: (c, vmid) => isRunning(c, vmid),
    // `CT <vmid> already running` is a synchronous 500 (docs/proxmox-behaviour.md#locks).
    alreadyDone: (err) => syncRefusal(err, /already running/),
  },
  "guest.stop": {
    parseParams: (raw) => empty.parse(raw) as OpParams["guest.stop"],
    taskType: "vzstop",
    post: (c, vmid, _p, signal) => c.stop(vmid, opts(signal)),
    inEffect: async (c, vmid) => !(await isRunning(c, vmid)),
    alreadyDone: (err) => syncRefusal(err, /not running/),
  },
  "guest.shutdown": {
    parseParams: (raw) => shutdownParams.parse(raw),
    taskType: "vzshutdown",
    post: (c, vmid, p, signal) =>
      c.shutdown(vmid, {
        ...(p.timeoutSec !== undefined ? { timeoutSec: p.timeoutSec } : {}),
        ...(p.forceStop !== undefined ? { forceStop: p.forceStop } : {}),
        ...opts(signal),
      }),
    inEffect: async (c, vmid) => !(await isRunning(c, vmid)),
    alreadyDone: (err) => syncRefusal(err, /not running/),
  },
  "guest.config": {
    parseParams: (raw) => configParams.parse(raw) as OpParams["guest.config"],
    taskType: null,
    post: (c, vmid, p, signal) => {
      const update: LxcConfigUpdate = {};
      const remove = new Set(p.delete ?? []);
      if (p.cores !== undefined) update.cores = p.cores;
      if (p.memoryMiB !== undefined) update.memoryMiB = p.memoryMiB;
      if (p.swapMiB !== undefined) update.swapMiB = p.swapMiB;
      if (p.description !== undefined) {
        // An empty description is not stored; it is removed with `delete` (docs/proxmox-behaviour.md#snapshots-and-descriptions).
        const text = normalizeDescription(p.description);
        if (text === "") remove.add("description");
        else update.description = text;
      }
      if (remove.size > 0) update.delete = [...remove];
      if (p.digest !== undefined) update.digest = p.digest;
      return c.setConfig(vmid, update, opts(signal));
    },
    inEffect: async (c, vmid, p) => {
      const cfg = await c.guestConfig(vmid);
      if (p.cores !== undefined && cfg.cores !== p.cores) return false;
      if (p.memoryMiB !== undefined && (cfg.memoryMiB ?? PVE_DEFAULT_MEMORY_MIB) !== p.memoryMiB) {
        return false;
      }
      if (p.swapMiB !== undefined && cfg.swapMiB !== p.swapMiB) return false;
      if (
        p.description !== undefined &&
        normalizeDescription(cfg.description) !== normalizeDescription(p.description)
      ) {
        return false;
      }
      return (p.delete ?? []).every((key) => cfg.raw[key] === undefined);
    },
    alreadyDone: () => false,
  },
  "guest.snapshot": {
    parseParams: (raw) => snapshotParams.parse(raw),
    taskType: "vzsnapshot",
    post: (c, vmid, p, signal) =>
      c.snapshot(vmid, p.name, {
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...opts(signal),
      }),
    // Name clashes and locks fail inside the task, never synchronously (docs/proxmox-behaviour.md#locks).
    alreadyDone: () => false,
    // A snapshot the guest asked for through the local API is recorded as taken at its own
    // request: that guest (and only it) may roll back to it or delete it unsigned
    // (docs/architecture.md#snapshot-before-deploy, src/gate/README.md). It is not scratch: the
    // hub deleting it would still need a signature.
    provenance: (vmid, p, ctx) =>
      agentProvenance({
        created: [{ kind: "snapshot", vmid, name: p.name }],
        ...(ctx.origin === "localapi" ? { guestRequest: true } : {}),
      }),
    result: async (_c, _vmid, p) => ({ snapshot: p.name }),
  },
  "guest.rollback": {
    parseParams: (raw) => rollbackParams.parse(raw),
    taskType: "vzrollback",
    post: async (c, vmid, p, signal) => {
      // PVE stops a running CT to roll it back; `start` brings it back up afterwards.
      const start = await isRunning(c, vmid);
      return c.rollback(vmid, p.name, { ...(start ? { start: true } : {}), ...opts(signal) });
    },
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ snapshot: p.name }),
  },
  "guest.snapshot.delete": {
    parseParams: (raw) => snapshotDeleteParams.parse(raw),
    taskType: "vzdelsnapshot",
    post: (c, vmid, p, signal) =>
      c.deleteSnapshot(vmid, p.name, {
        ...(p.force !== undefined ? { force: p.force } : {}),
        ...opts(signal),
      }),
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ snapshot: p.name }),
  },
  "guest.backup": {
    parseParams: (raw) => backupParams.parse(raw),
    taskType: "vzdump",
    post: (c, vmid, p, signal) =>
      c.vzdump(
        {
          vmid,
          storage: p.storage,
          ...(p.mode !== undefined ? { mode: p.mode } : {}),
          ...(p.compress !== undefined ? { compress: p.compress } : {}),
          ...(p.notesTemplate !== undefined ? { notesTemplate: p.notesTemplate } : {}),
          ...(p.protected !== undefined ? { protected: p.protected } : {}),
          // vzdump defaults remove to 1 (docs/proxmox-behaviour.md#vzdump-remove).
          remove: p.remove ?? false,
          ...backupRetention(p),
        },
        opts(signal),
      ),
    alreadyDone: () => false,
    result: async (c, vmid, p, upid) => {
      const archive = await findArchive(c, vmid, p.storage, upid).catch(() => undefined);
      return { storage: p.storage, ...(archive !== undefined ? { archive } : {}) };
    },
  },
  "guest.resize": {
    parseParams: (raw) => resizeParams.parse(raw),
    taskType: "resize",
    post: (c, vmid, p, signal) =>
      c.resize(
        vmid,
        { disk: p.disk, size: p.size, ...(p.digest !== undefined ? { digest: p.digest } : {}) },
        opts(signal),
      ),
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ disk: p.disk, grown_by: p.size.slice(1) }),
  },
  "guest.destroy": {
    parseParams: (raw) => destroyParams.parse(raw),
    taskType: "vzdestroy",
    post: (c, vmid, p, signal) => c.destroy(vmid, p, opts(signal)),
    // A guest that is gone is what was asked for (its config file missing, docs/proxmox-behaviour.md#api-envelope-and-errors).
    alreadyDone: (err) => syncRefusal(err, /does not exist/),
  },
  "guest.provision": {
    parseParams: (raw) => provisionParams.parse(raw) as OpParams["guest.provision"],
    taskType: "vzrestore",
    // Never `force`: PVE then refuses an id in use ("CT <vmid> already exists", docs/proxmox-behaviour.md#locks).
    // `unique` and `unprivileged` are always sent, 1 unless signed params said 0: left out,
    // PVE keeps the archive's MAC addresses and its privilege (src/gate/README.md,
    // docs/proxmox-behaviour.md#restore-keeps-the-archives-settings).
    post: (c, vmid, p, signal) =>
      restoreCall(
        c,
        vmid,
        { ...p, unique: p.unique ?? true, unprivileged: p.unprivileged ?? true },
        false,
        signal,
      ),
    alreadyDone: () => false,
    provenance: (vmid) => agentProvenance({ created: [{ kind: "guest", vmid }] }),
    result: async (_c, vmid) => ({ vmid }),
  },
  "guest.restore": {
    parseParams: (raw) => restoreParams.parse(raw) as OpParams["guest.restore"],
    taskType: "vzrestore",
    // Over an existing guest by definition, which PVE allows only with `force`.
    post: (c, vmid, p, signal) => restoreCall(c, vmid, p, true, signal),
    alreadyDone: () => false,
    provenance: (vmid) => agentProvenance({ created: [{ kind: "guest", vmid }] }),
    result: async (_c, vmid) => ({ vmid }),
  },
};

export function isExecOp(op: string): op is ExecOp {
  return Object.hasOwn(EXECUTORS, op);
}

/** The executor of `op`, widened for code that handles every kind alike. */
export function executorFor(op: string): OpExecutor<ExecOp> | undefined {
  return isExecOp(op) ? (EXECUTORS[op] as unknown as OpExecutor<ExecOp>) : undefined;
}
