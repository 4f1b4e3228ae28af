import { privsepNote } from "./api-error.ts";
import {
  type ConfigLockFailure,
  describePermission,
  type FailureReason,
  type LockTimeoutFailure,
  type PermissionFailure,
  parseFailureReason,
} from "./failure-reason.ts";

export interface TaskErrorInit {
  upid: string;
  node: string;
  type: string;
  id: string;
  exitstatus: string;
  logTail: string[];
  callerTokenId?: string;
}

/**
 * A task that stopped with anything but `OK` or `WARNINGS: N`. Authorization and lock errors of
 * snapshot/rollback/start surface only here, not on the POST (docs/proxmox-behaviour.md#locks).
 */
export class TaskError extends Error {
  override readonly name = "TaskError";
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  /** The last log line's error text, without `TASK ERROR:` (docs/proxmox-behaviour.md#task-status). */
  readonly exitstatus: string;
  readonly reason: FailureReason;
  readonly permission: PermissionFailure | undefined;
  readonly lock: ConfigLockFailure | LockTimeoutFailure | undefined;
  /** The last lines of the task log. */
  readonly logTail: readonly string[];
  readonly callerTokenId: string | undefined;

  constructor(init: TaskErrorInit) {
    const reason = parseFailureReason(init.exitstatus);
    const permission = reason.kind === "permission" ? reason : undefined;
    const lock = reason.kind === "locked" || reason.kind === "lock_timeout" ? reason : undefined;
    const what = init.id ? `${init.type} ${init.id}` : init.type;
    let detail = init.exitstatus;
    if (permission) detail = `${describePermission(permission)}${privsepNote(init.callerTokenId)}`;
    else if (reason.kind === "locked")
      detail = `${init.exitstatus} (guest is locked: ${reason.lock})`;
    else if (reason.kind === "lock_timeout") detail = `${init.exitstatus} (config lock busy)`;
    super(`Proxmox task ${what} on ${init.node} failed: ${detail}`);
    this.upid = init.upid;
    this.node = init.node;
    this.type = init.type;
    this.id = init.id;
    this.exitstatus = init.exitstatus;
    this.reason = reason;
    this.permission = permission;
    this.lock = lock;
    this.logTail = init.logTail;
    this.callerTokenId = init.callerTokenId;
  }
}

/** The wait deadline passed. The task itself was not cancelled and may still finish. */
export class TaskTimeoutError extends Error {
  override readonly name = "TaskTimeoutError";
  constructor(
    readonly upid: string,
    readonly waitedMs: number,
    readonly polls: number,
    /** Last status seen: `running`, or `unknown` when no status was ever read. */
    readonly lastStatus: "running" | "unknown",
  ) {
    super(
      `Proxmox task ${upid} not finished after ${Math.round(waitedMs)} ms (${polls} polls, last status ${lastStatus}); stopped waiting, the task was not cancelled`,
    );
  }
}

/** The caller's AbortSignal fired. The task itself was not cancelled. */
export class TaskWaitAbortedError extends Error {
  override readonly name = "TaskWaitAbortedError";
  constructor(
    readonly upid: string,
    readonly polls: number,
    override readonly cause: unknown,
  ) {
    super(
      `stopped waiting for Proxmox task ${upid} after ${polls} polls (aborted); the task was not cancelled`,
    );
  }
}
