import type { Logger } from "../log/types.ts";
import type { GuestBackupParams } from "../ops/params/guest-backup.ts";
import type { GuestDestroyParams } from "../ops/params/guest-destroy.ts";
import type { GuestRestoreParams } from "../ops/params/guest-provision.ts";
import type { GuestResizeParams } from "../ops/params/guest-resize.ts";
import type { RetryPolicy } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";
import type { ClockOffsetEstimate } from "./clock-offset.ts";
import type { DecodedList, ListItemProblem } from "./decode-list.ts";
import type {
  ClusterResource,
  NodeEntry,
  NodeStatus,
  PermissionMap,
  PveVersion,
} from "./schema-cluster.ts";
import type { DiskEntry } from "./schema-disks.ts";
import type { LxcConfig, LxcStatus, SnapshotList } from "./schema-guest.ts";
import type { GuestInterface } from "./schema-interfaces.ts";
import type {
  NodeStorage,
  PruneMark,
  StorageConfigEntry,
  StorageVolume,
} from "./schema-storage.ts";
import type { TaskLogLine, TaskStatus, TaskSummary } from "./schema-task.ts";
import type { NodeTime } from "./schema-time.ts";
import type { TlsTrust } from "./tls-trust.ts";

/**
 * Task polling: the first poll `initialMs` after the start, then back-off by ×`factor`, capped
 * at `maxMs`, and never more polls than a loop every `maxMs` would have made by then
 * (`nextPollAtMs` in wait-task.ts).
 */
export interface PollSchedule {
  initialMs: number;
  factor: number;
  maxMs: number;
}

// A 1 s grid: a 2 s cap made the expected delay before a long task's end is seen 1 s instead of
// 0.5 s (docs/proxmox-behaviour.md#task-poll-timing).
export const defaultPollSchedule: PollSchedule = { initialMs: 250, factor: 1.5, maxMs: 1000 };

export interface TaskProgress {
  upid: string;
  status: TaskStatus;
  polls: number;
  elapsedMs: number;
}

export interface WaitTaskOptions {
  /** Longest time to wait, in ms from the call. The task is not cancelled when it passes. */
  deadlineMs: number;
  signal?: AbortSignal;
  onProgress?: (p: TaskProgress) => void;
  /** Overrides the client's poll schedule. */
  schedule?: PollSchedule;
}

export interface TaskResult {
  upid: string;
  /** `OK` or `WARNINGS: N`. */
  exitstatus: string;
  /** Text of the task log's `WARN:` lines (docs/proxmox-behaviour.md#task-status), empty for `OK`. */
  warnings: string[];
  polls: number;
  durationMs: number;
}

export interface TaskLogPage {
  lines: TaskLogLine[];
  /** Total number of lines in the log (docs/proxmox-behaviour.md#task-log). */
  total: number;
}

/**
 * Restore a vzdump archive into a new CT: the primary create path. The fields are those of
 * `guest.restore` (src/ops/params/guest-provision.ts), plus the id and raw extras.
 */
export type RestoreLxcParams = GuestRestoreParams & {
  vmid: number;
  /** Further create parameters, sent as given. */
  extra?: Record<string, string | number | boolean>;
};

/**
 * A vzdump call: the fields of `guest.backup` (src/ops/params/guest-backup.ts) but its
 * retention, which is sent as `extra["prune-backups"]`.
 */
export type VzdumpParams = Omit<GuestBackupParams, "pruneBackups"> & {
  vmid: number;
  extra?: Record<string, string | number | boolean>;
};

/** A synchronous LXC config update. Units as in LxcConfig. */
export interface LxcConfigUpdate {
  hostname?: string;
  description?: string;
  memoryMiB?: number;
  swapMiB?: number;
  cores?: number;
  cpulimit?: number;
  onboot?: boolean;
  protection?: boolean;
  tags?: string[];
  features?: string;
  /** Container environment, PVE ≥ 9.1. */
  env?: string;
  net?: Record<string, string>;
  mountpoints?: Record<string, string>;
  /** Keys to remove (sent as `delete`). */
  delete?: string[];
  /** Refuse the update if the config changed since this digest was read. */
  digest?: string;
  extra?: Record<string, string | number | boolean>;
}

/**
 * A disk resize: `guest.resize`'s fields (src/ops/params/guest-resize.ts). The client sends
 * `size` as given, so it also takes PVE's absolute `N[KMGT]`, which the operation refuses.
 */
export type ResizeParams = GuestResizeParams;

export type DestroyParams = GuestDestroyParams;

/**
 * `POST /storage` parameters exactly as PVE names them (`storage`, `type`, `server`,
 * `is_mountpoint`, …). Secrets in it (`password`) travel only in this one request body.
 */
export type CreateStorageParams = {
  storage: string;
  type: "dir" | "nfs" | "cifs" | "pbs";
} & Record<string, string | number | boolean>;

/** What `POST /storage` answers: PVE returns a generated PBS key once, here (docs/proxmox-behaviour.md#pbs-client-side-encryption). */
export interface CreatedStorage {
  storage: string;
  type: string;
  /** `config.encryption-key` of the answer: the key JSON when it was `autogen`. Secret. */
  encryptionKey?: string;
}

export interface ListTasksParams {
  vmid?: number;
  typefilter?: string;
  source?: "archive" | "active" | "all";
  errors?: boolean;
  limit?: number;
  since?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * The Proxmox VE API as the agent uses it, bound to one node. Every mutating call returns the
 * task UPID as soon as PVE has forked the worker; wait with `waitTask`. Errors are
 * ProxmoxApiError, ProxmoxTlsError, ProxmoxNetworkError, ProxmoxDecodeError; task failures
 * are TaskError, TaskTimeoutError, TaskWaitAbortedError.
 */
export interface ProxmoxClient {
  /** The node this client is bound to. */
  readonly node: string;
  /** `user@realm!tokenid` of the token in use (never the secret). */
  readonly tokenId: string;

  version(o?: CallOptions): Promise<PveVersion>;
  nodes(o?: CallOptions): Promise<DecodedList<NodeEntry>>;
  nodeStatus(o?: CallOptions): Promise<NodeStatus>;
  /** The node's physical disks, without SMART (docs/proxmox-behaviour.md#disk-inventory). */
  listDisks(o?: CallOptions): Promise<DecodedList<DiskEntry>>;
  /** The node's clock, to measure how far it is from ours (docs/proxmox-behaviour.md#node-time). */
  nodeTime(o?: CallOptions): Promise<NodeTime>;
  /**
   * Every CT the token may see. Each item is decoded on its own: one Proxmox sends in a form
   * this client cannot read is kept without the unreadable fields, or left out, and reported
   * in `problems`, to the logger and to `onListItemProblem` (the same for every list read).
   */
  listLXC(o?: CallOptions): Promise<DecodedList<LxcStatus>>;
  guestStatus(vmid: number, o?: CallOptions): Promise<LxcStatus>;
  guestConfig(
    vmid: number,
    o?: CallOptions & { current?: boolean; snapshot?: string },
  ): Promise<LxcConfig>;
  listSnapshots(vmid: number, o?: CallOptions): Promise<SnapshotList>;
  /** The CT's network interfaces as the guest configured them; null while it is not running. */
  guestInterfaces(vmid: number, o?: CallOptions): Promise<GuestInterface[] | null>;
  listStorage(o?: CallOptions & { type?: string }): Promise<DecodedList<StorageConfigEntry>>;
  nodeStorage(
    o?: CallOptions & { content?: string; enabled?: boolean },
  ): Promise<DecodedList<NodeStorage>>;
  storageContent(
    storage: string,
    o?: CallOptions & { content?: string; vmid?: number },
  ): Promise<DecodedList<StorageVolume>>;
  clusterResources(
    o?: CallOptions & { type?: "vm" | "storage" | "node" | "sdn" },
  ): Promise<DecodedList<ClusterResource>>;
  /** Next free VMID; with `vmid`, asserts that id is free (400 otherwise). */
  nextId(o?: CallOptions & { vmid?: number }): Promise<number>;
  listTasks(p?: ListTasksParams & CallOptions): Promise<DecodedList<TaskSummary>>;
  /** The caller's effective privileges, path → privilege → propagate. */
  permissions(o?: CallOptions & { path?: string }): Promise<PermissionMap>;

  restoreLXC(p: RestoreLxcParams, o?: CallOptions): Promise<string>;
  vzdump(p: VzdumpParams, o?: CallOptions): Promise<string>;
  snapshot(vmid: number, name: string, o?: CallOptions & { description?: string }): Promise<string>;
  rollback(vmid: number, name: string, o?: CallOptions & { start?: boolean }): Promise<string>;
  deleteSnapshot(
    vmid: number,
    name: string,
    o?: CallOptions & { force?: boolean },
  ): Promise<string>;
  start(vmid: number, o?: CallOptions): Promise<string>;
  stop(vmid: number, o?: CallOptions & { overruleShutdown?: boolean }): Promise<string>;
  shutdown(
    vmid: number,
    o?: CallOptions & { timeoutSec?: number; forceStop?: boolean },
  ): Promise<string>;
  resize(vmid: number, p: ResizeParams, o?: CallOptions): Promise<string>;
  destroy(vmid: number, p?: DestroyParams, o?: CallOptions): Promise<string>;
  /** Synchronous on LXC (null); a UPID is accepted too (docs/proxmox-behaviour.md#schema-caveats). */
  setConfig(vmid: number, p: LxcConfigUpdate, o?: CallOptions): Promise<string | null>;

  /** Synchronous; PVE activates the storage before answering and fails the create if it cannot. */
  createStorage(p: CreateStorageParams, o?: CallOptions): Promise<CreatedStorage>;
  /** Synchronous; removes the definition only, never the data on it. */
  deleteStorage(storage: string, o?: CallOptions): Promise<void>;
  /**
   * Deletes one volume, a backup archive here: always an `imgdel` task
   * (docs/proxmox-behaviour.md#deleting-a-backup-volume).
   */
  deleteVolume(storage: string, volid: string, o?: CallOptions): Promise<string>;
  /**
   * A volume's protection and notes; synchronous, answers null. A protected backup is neither
   * pruned nor deleted until unprotected (docs/proxmox-behaviour.md#protected-backups).
   */
  updateVolumeAttributes(
    storage: string,
    volid: string,
    p: { protected?: boolean; notes?: string },
    o?: CallOptions,
  ): Promise<void>;
  /** PVE's marks for one guest's backups under a retention; synchronous, changes nothing. */
  pruneDryRun(
    storage: string,
    p: { vmid: number; pruneBackups: string },
    o?: CallOptions,
  ): Promise<DecodedList<PruneMark>>;
  /** Removes what the same marks say: a `prunebackups` task (docs/proxmox-behaviour.md#backup-retention-marks). */
  pruneBackups(
    storage: string,
    p: { vmid: number; pruneBackups: string },
    o?: CallOptions,
  ): Promise<string>;

  taskStatusOnce(upid: string, o?: CallOptions): Promise<TaskStatus>;
  /** One page of the log: `limit` lines from line `start` (0-based offset). */
  taskLog(upid: string, start: number, limit: number, o?: CallOptions): Promise<TaskLogPage>;
  /** The last `lines` lines of the log. */
  taskLogTail(upid: string, lines?: number, o?: CallOptions): Promise<string[]>;
  waitTask(upid: string, o: WaitTaskOptions): Promise<TaskResult>;

  /**
   * Proxmox's clock against ours, estimated from the `Date` header of every answer so far
   * (docs/proxmox-behaviour.md#date-header-clock-offset); undefined before the first answer.
   * Costs no request.
   */
  clockOffset(): ClockOffsetEstimate | undefined;

  /** Drops pooled connections; the client stays usable and reconnects (and re-probes). */
  close(): void;
}

export interface ProxmoxClientOptions {
  /** `https://host:8006`. */
  endpoint: string;
  node: string;
  /** `USER@REALM!TOKENID=SECRET`. */
  token: string;
  trust: TlsTrust;
  logger?: Logger;
  clock?: Clock;
  /** Per request, default 30 s (pveproxy's own proxy timeout, docs/proxmox-behaviour.md#api-envelope-and-errors). */
  requestTimeoutMs?: number;
  /** Retries for idempotent reads. */
  retry?: Partial<RetryPolicy>;
  /** Default task poll schedule. */
  taskPoll?: Partial<PollSchedule>;
  /** How long a 400 `no such task` counts as "not visible yet" (docs/proxmox-behaviour.md#task-not-yet-visible), default 5 s. */
  noSuchTaskWindowMs?: number;
  /** Jitter source for retries, [0, 1). */
  random?: () => number;
  /** Told about each list item that did not decode whole (it is also logged as a warning). */
  onListItemProblem?: (p: ListItemProblem) => void;
}
