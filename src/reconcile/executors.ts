import { type AgentProvenance, agentProvenance } from "../gate/provenance.ts";
import { BACKUP_VOLID } from "../ops/params/backup-policy.ts";
import { BACKUP_KEEP_ALL, type GuestBackupParams } from "../ops/params/guest-backup.ts";
import type { GuestRestoreParams } from "../ops/params/guest-provision.ts";
import { OP_PARAMS, type OpParamsOf } from "../ops/params/op-params.ts";
import type { OpOrigin } from "../ops/types.ts";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { LxcConfigUpdate, ProxmoxClient } from "../proxmox/client-types.ts";
import { normalizeDescription } from "../proxmox/description.ts";
import { parseUpid } from "../proxmox/upid.ts";
import { requireEnvSupport } from "./env-support.ts";
import { PVE_DEFAULT_MEMORY_MIB } from "./planner.ts";

/** The variable a new guest's controller reads from PID 1's environment. */
export const BOOTSTRAP_ENV_KEY = "FELHOM_BOOTSTRAP";

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
  | "taskLog"
  | "deleteVolume"
  | "updateVolumeAttributes"
  | "pruneDryRun"
  | "pruneBackups"
  | "version"
>;

/**
 * The params of every operation this agent executes against Proxmox, by operation name:
 * inferred from each operation's one schema in src/ops/params.
 */
export type OpParams = Omit<
  OpParamsOf,
  | "golden.register"
  | "signers.rotate"
  | "agent.update"
  | "storage.add"
  | "storage.remove"
  | "backup.policy"
  | "tunnel.configure"
>;

export type ExecOp = keyof OpParams;

/**
 * Secrets an executor sends but the params only name, held in memory by their owner: today
 * the bootstrap code `guest.config` writes into a new guest's `env`
 * (docs/architecture.md#provisioning-constraints).
 */
export interface ExecSecrets {
  /**
   * The `env` value for a bootstrap id, only for the guest it was issued to; undefined once
   * the code is no longer held, or for another vmid.
   */
  bootstrapEnv(id: string, vmid: number): string | undefined;
}

/** Thrown when params name a secret the agent no longer holds (e.g. after a restart). */
export class SecretNotHeldError extends Error {
  override readonly name = "SecretNotHeldError";
}

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
    secrets?: ExecSecrets,
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

/**
 * The `prune-backups` a backup sends: keep-all unless a signed operation asked to prune, by a
 * retention it names or, with `remove: true` alone, by the storage's own.
 */
function backupRetention(p: GuestBackupParams): { extra?: Record<string, string> } {
  const retention = p.pruneBackups ?? (p.remove === true ? undefined : BACKUP_KEEP_ALL);
  return retention === undefined ? {} : { extra: { "prune-backups": retention } };
}

/** vzdump names the guest's run state near the top of its log (docs/proxmox-behaviour.md#vzdump-status-line). */
const VZDUMP_STOPPED = /^INFO: status = stopped$/;

/**
 * The guest's config digest after a backup vzdump took of it stopped, so a later schedule can
 * tell it is unchanged (docs/reconcile.md#stopped-and-unchanged-guests); undefined when it ran
 * during the backup, or still runs now.
 */
async function stoppedDigest(
  c: ExecClient,
  vmid: number,
  upid: string,
): Promise<string | undefined> {
  const head = await c.taskLog(upid, 0, 40);
  if (!head.lines.some((l) => VZDUMP_STOPPED.test(l.t))) return undefined;
  if ((await c.guestStatus(vmid)).status !== "stopped") return undefined;
  return (await c.guestConfig(vmid)).digest;
}

/** Parses with the operation's one schema (src/ops/params); throws ZodError. */
function parserOf<K extends ExecOp>(op: K): (raw: unknown) => OpParams[K] {
  return (raw) => OP_PARAMS[op].parse(raw) as OpParams[K];
}

function syncRefusal(err: unknown, text: RegExp): boolean {
  return err instanceof ProxmoxApiError && err.status === 500 && text.test(err.pveMessage);
}

const isRunning = async (c: ExecClient, vmid: number) =>
  (await c.guestStatus(vmid)).status === "running";

const opts = (signal?: AbortSignal) => (signal ? { signal } : {});

function restoreCall(
  c: ExecClient,
  vmid: number,
  p: GuestRestoreParams,
  force: boolean,
  signal?: AbortSignal,
): Promise<string> {
  const { force: _ignored, ...rest } = p;
  return c.restoreLXC({ vmid, ...rest, ...(force ? { force: true } : {}) }, opts(signal));
}

/**
 * The archive a vzdump task wrote, with its size: named in its log (`creating vzdump archive
 * '…/<file>'`), then looked up in the storage's content by that file name; else the newest
 * backup of the guest that appeared after the task started. Undefined when neither finds it.
 */
async function findArchive(
  c: ExecClient,
  vmid: number,
  storage: string,
  upid: string,
): Promise<{ volid: string; sizeBytes: number } | undefined> {
  const log = await c.taskLogTail(upid, 50).catch(() => [] as string[]);
  const named = log
    .map((line) => /creating vzdump archive '(?:[^']*\/)?([^'/]+)'/.exec(line)?.[1])
    .find((f) => f !== undefined);
  const volumes = await c.storageContent(storage, { content: "backup", vmid });
  if (named !== undefined) {
    const hit = volumes.find((v) => v.volid.endsWith(`/${named}`) || v.volid.endsWith(`:${named}`));
    if (hit) return { volid: hit.volid, sizeBytes: hit.sizeBytes };
  }
  const since = parseUpid(upid).starttime - 2;
  const newest = volumes
    .filter((v) => v.vmid === vmid && (v.ctimeSec ?? 0) >= since)
    .sort((a, b) => (b.ctimeSec ?? 0) - (a.ctimeSec ?? 0))[0];
  return newest === undefined ? undefined : { volid: newest.volid, sizeBytes: newest.sizeBytes };
}

/** A mapped type: adding an operation without an executor does not compile. */
export const EXECUTORS: { [K in ExecOp]: OpExecutor<K> } = {
  "guest.start": {
    parseParams: parserOf("guest.start"),
    taskType: "vzstart",
    post: (c, vmid, _p, signal) => c.start(vmid, opts(signal)),
    inEffect: (c, vmid) => isRunning(c, vmid),
    // `CT <vmid> already running` is a synchronous 500 (docs/proxmox-behaviour.md#locks).
    alreadyDone: (err) => syncRefusal(err, /already running/),
  },
  "guest.stop": {
    parseParams: parserOf("guest.stop"),
    taskType: "vzstop",
    post: (c, vmid, _p, signal) => c.stop(vmid, opts(signal)),
    inEffect: async (c, vmid) => !(await isRunning(c, vmid)),
    alreadyDone: (err) => syncRefusal(err, /not running/),
  },
  "guest.shutdown": {
    parseParams: parserOf("guest.shutdown"),
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
    parseParams: parserOf("guest.config"),
    taskType: null,
    post: (c, vmid, p, signal, secrets) => {
      const update: LxcConfigUpdate = {};
      const remove = new Set(p.delete ?? []);
      if (p.bootstrap !== undefined) {
        const env = secrets?.bootstrapEnv(p.bootstrap, vmid);
        if (env === undefined) {
          return Promise.reject(
            new SecretNotHeldError(
              `bootstrap code ${p.bootstrap} is no longer held by the agent; issue a new one`,
            ),
          );
        }
        update.env = env;
      }
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
      // The code itself is not in the params; a bootstrap `env` of ours is what to look for.
      if (p.bootstrap !== undefined && !cfg.raw.env?.startsWith(`${BOOTSTRAP_ENV_KEY}=`)) {
        return false;
      }
      return (p.delete ?? []).every((key) => cfg.raw[key] === undefined);
    },
    alreadyDone: () => false,
  },
  "guest.snapshot": {
    parseParams: parserOf("guest.snapshot"),
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
    parseParams: parserOf("guest.rollback"),
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
    parseParams: parserOf("guest.snapshot.delete"),
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
    parseParams: parserOf("guest.backup"),
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
      const digest = await stoppedDigest(c, vmid, upid).catch(() => undefined);
      return {
        storage: p.storage,
        ...(archive !== undefined ? { archive: archive.volid, size: archive.sizeBytes } : {}),
        ...(digest !== undefined ? { config_digest: digest } : {}),
      };
    },
  },
  "guest.backup.delete": {
    parseParams: parserOf("guest.backup.delete"),
    taskType: "imgdel",
    post: (c, vmid, p, signal) => {
      // The volume must be this guest's: the signature binds the vmid, the volid names one too.
      const owner = Number(BACKUP_VOLID.exec(p.volid)?.[1]);
      if (owner !== vmid) {
        return Promise.reject(new Error(`${p.volid} is not a backup of guest ${vmid}`));
      }
      return c.deleteVolume(p.storage, p.volid, opts(signal));
    },
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ storage: p.storage, deleted: p.volid }),
  },
  "guest.backup.prune": {
    parseParams: parserOf("guest.backup.prune"),
    taskType: "prunebackups",
    post: async (c, vmid, p, signal) => {
      // The marks are read again: pruned only when they still name exactly what the floor
      // check approved (docs/reconcile.md#backup-retention-floor).
      const marks = await c.pruneDryRun(
        p.storage,
        { vmid, pruneBackups: p.pruneBackups },
        opts(signal),
      );
      const now = marks
        .filter((m) => m.mark === "remove")
        .map((m) => m.volid)
        .sort();
      const approved = [...p.remove].sort();
      if (now.length !== approved.length || now.some((v, i) => v !== approved[i])) {
        throw new Error("the prune marks changed since the floor check; nothing was pruned");
      }
      return c.pruneBackups(p.storage, { vmid, pruneBackups: p.pruneBackups }, opts(signal));
    },
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ storage: p.storage, removed: p.remove }),
  },
  "guest.backup.protect": {
    parseParams: parserOf("guest.backup.protect"),
    // A synchronous PUT (docs/proxmox-behaviour.md#protected-backups): in effect once the
    // storage lists the volume protected.
    taskType: null,
    post: async (c, vmid, p, signal) => {
      const owner = Number(BACKUP_VOLID.exec(p.volid)?.[1]);
      if (owner !== vmid) throw new Error(`${p.volid} is not a backup of guest ${vmid}`);
      await c.updateVolumeAttributes(p.storage, p.volid, { protected: true }, opts(signal));
      return null;
    },
    inEffect: async (c, vmid, p) =>
      (await c.storageContent(p.storage, { content: "backup", vmid })).some(
        (v) => v.volid === p.volid && v.protected === true,
      ),
    alreadyDone: () => false,
    result: async (_c, _vmid, p) => ({ storage: p.storage, protected: p.volid }),
  },
  "guest.resize": {
    parseParams: parserOf("guest.resize"),
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
    parseParams: parserOf("guest.destroy"),
    taskType: "vzdestroy",
    post: (c, vmid, p, signal) => c.destroy(vmid, p, opts(signal)),
    // A guest that is gone is what was asked for (its config file missing, docs/proxmox-behaviour.md#api-envelope-and-errors).
    alreadyDone: (err) => syncRefusal(err, /does not exist/),
  },
  "guest.provision": {
    parseParams: parserOf("guest.provision"),
    taskType: "vzrestore",
    // Never `force`: PVE then refuses an id in use ("CT <vmid> already exists", docs/proxmox-behaviour.md#locks).
    // `unique` and `unprivileged` are always sent, 1 unless signed params said 0: left out,
    // PVE keeps the archive's MAC addresses and its privilege (src/gate/README.md,
    // docs/proxmox-behaviour.md#restore-keeps-the-archives-settings).
    post: async (c, vmid, p, signal) => {
      // A new guest gets its bootstrap code through `env`; on a release without it the guest
      // could never bootstrap, so nothing is restored (docs/proxmox-behaviour.md#the-lxc-env-option).
      await requireEnvSupport(c);
      // The sealed controller credential is for the guest's bootstrap grant, not for Proxmox.
      const { hub_credential: _relayed, ...restore } = p;
      return restoreCall(
        c,
        vmid,
        { ...restore, unique: p.unique ?? true, unprivileged: p.unprivileged ?? true },
        false,
        signal,
      );
    },
    alreadyDone: () => false,
    provenance: (vmid) => agentProvenance({ created: [{ kind: "guest", vmid }] }),
    result: async (_c, vmid) => ({ vmid }),
  },
  "guest.restore": {
    parseParams: parserOf("guest.restore"),
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
