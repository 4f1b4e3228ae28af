/**
 * Whether a stopped guest still is what its newest good backup on a tier holds
 * (docs/reconcile.md#stopped-and-unchanged-guests). Pure: the caller reads the config digest
 * and the guest's tasks since the backup started. Anything it cannot vouch for means changed,
 * so a doubt costs one backup more, never one less.
 */

/** What the history recorded of the newest good backup. */
export interface BackupBaseline {
  /** The config digest read right after the backup, recorded only when vzdump found it stopped. */
  configDigest: string | null;
  /** When the backup started, epoch ms (null for an archive only seen in a listing). */
  startedAt: number | null;
}

export interface GuestNow {
  status: "running" | "stopped";
  /** `digest` of `GET …/lxc/{vmid}/config` now. */
  configDigest: string;
  /** Every task of this guest since the backup started, any user (`GET …/tasks?vmid&since`). */
  tasks: readonly { type: string; upid: string }[];
  /** The task list was cut at its limit: more may exist. */
  tasksTruncated: boolean;
}

export type UnchangedVerdict = { unchanged: true } | { unchanged: false; why: string };

/** Task types that read a guest and change neither its config nor its disks. */
const READ_ONLY_TASKS: ReadonlySet<string> = new Set(["vzdump"]);

export function judgeUnchanged(base: BackupBaseline, now: GuestNow): UnchangedVerdict {
  if (base.configDigest === null || base.startedAt === null) {
    return {
      unchanged: false,
      why: "its newest good backup was not taken by the agent while it was stopped",
    };
  }
  if (now.status !== "stopped") return { unchanged: false, why: "it is running" };
  if (now.configDigest !== base.configDigest) {
    return { unchanged: false, why: "its config changed since the backup" };
  }
  if (now.tasksTruncated) {
    return { unchanged: false, why: "too many tasks on it since the backup to tell" };
  }
  const other = now.tasks.find((t) => !READ_ONLY_TASKS.has(t.type));
  if (other !== undefined) {
    return { unchanged: false, why: `a ${other.type} task ran on it since the backup` };
  }
  return { unchanged: true };
}
