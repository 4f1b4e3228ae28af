import { formatUpid, type Upid } from "../../proxmox/upid.ts";
import type { Principal } from "./acl.ts";
import { TaskFailure } from "./errors.ts";
import type { FaultSpec } from "./faults.ts";

export interface TaskLog {
  line(text: string): void;
  /** `WARN: …` lines; any makes the task end `WARNINGS: N` (docs/proxmox-behaviour.md#task-status). */
  warn(text: string): void;
}

/** What a worker does after its synchronous start: finish later, or be stopped. */
export interface TaskPlan {
  /** Overrides the configured duration for this task type. */
  durationMs?: number;
  /** Runs when the task's time is up; throw TaskFailure (or any Error) to fail the task. */
  complete?(log: TaskLog): void;
  /** Runs when the task is stopped before it completes (releases locks it holds). */
  abort?(): void;
}

/**
 * A worker's start: runs at once, inside the request, after the UPID exists. Throwing fails the
 * task immediately (its message becomes the exitstatus), as a `die` early in a PVE worker does.
 */
export type TaskWork = (log: TaskLog) => TaskPlan | undefined;

export interface SimTask {
  upid: string;
  parts: Upid;
  status: "running" | "stopped";
  exitstatus?: string;
  /** Epoch ms when the task ends; Infinity for a hanging task. */
  endsAt: number;
  endtime?: number;
  lines: string[];
  warnings: number;
  plan: TaskPlan | undefined;
  onFailure?: () => void;
}

export interface TaskOptions {
  type: string;
  id: string;
  principal: Principal;
  /** The CT whose config flock the worker takes (for the `lockwait` fault, docs/proxmox-behaviour.md#locks). */
  flockVmid?: number;
  work: TaskWork;
  /** Runs when the task fails for any reason (create cleans up its half-made CT). */
  onFailure?: () => void;
}

export interface TaskManagerDeps {
  node: string;
  now: () => number;
  faults: () => FaultSpec;
  durationMs: (type: string) => number;
  lockTimeoutMs: number;
  onChange: () => void;
}

/** `can't lock file … - got timeout` (docs/proxmox-behaviour.md#locks). */
export function flockTimeoutMessage(vmid: number): string {
  return `can't lock file '/run/lock/lxc/pve-config-${vmid}.lock' - got timeout`;
}

/**
 * Workers and their logs. Tasks finish lazily: `advance(now)` completes every task whose time is
 * up, in end order, so a test clock fully controls them and no timers are left behind.
 */
export class TaskManager {
  private readonly tasks = new Map<string, SimTask>();
  private readonly order: SimTask[] = [];
  private running: SimTask[] = [];
  private pid = 0x1000;
  private readonly pstart = 0x00a1b2c3;

  constructor(private readonly deps: TaskManagerDeps) {}

  nextPid(): number {
    this.pid += 1 + (this.pid % 7);
    return this.pid;
  }

  get(upid: string): SimTask | undefined {
    return this.tasks.get(upid);
  }

  list(): readonly SimTask[] {
    return this.order;
  }

  spawn(opts: TaskOptions): SimTask {
    const now = this.deps.now();
    const parts: Upid = {
      node: this.deps.node,
      pid: this.nextPid(),
      pstart: this.pstart,
      starttime: Math.floor(now / 1000),
      type: opts.type,
      id: opts.id,
      user: opts.principal.fullid,
    };
    const task: SimTask = {
      upid: formatUpid(parts),
      parts,
      status: "running",
      endsAt: now,
      lines: [],
      warnings: 0,
      plan: undefined,
      ...(opts.onFailure === undefined ? {} : { onFailure: opts.onFailure }),
    };
    this.tasks.set(task.upid, task);
    this.order.push(task);
    const log = this.logFor(task);
    const faults = this.deps.faults();
    const duration = this.deps.durationMs(opts.type);
    if (opts.flockVmid !== undefined && faults.lockWait.includes(opts.flockVmid)) {
      log.line("trying to acquire lock...");
      const vmid = opts.flockVmid;
      task.plan = {
        durationMs: this.deps.lockTimeoutMs,
        complete: () => {
          throw new TaskFailure(flockTimeoutMessage(vmid));
        },
      };
    } else if (faults.taskFail.includes(opts.type)) {
      task.plan = {
        complete: () => {
          throw new TaskFailure(`simulated failure of ${opts.type} (fault injection)`);
        },
      };
    } else {
      try {
        task.plan = opts.work(log);
      } catch (e) {
        this.finish(task, now, e);
        return task;
      }
    }
    task.endsAt = faults.hang.includes(opts.type)
      ? Number.POSITIVE_INFINITY
      : now + (task.plan?.durationMs ?? duration);
    this.running.push(task);
    this.deps.onChange();
    return task;
  }

  /** Completes every task whose time is up. Cheap when none is. */
  advance(now: number): void {
    if (this.running.length === 0) return;
    const due = this.running.filter((t) => t.endsAt <= now).sort((a, b) => a.endsAt - b.endsAt);
    if (due.length === 0) return;
    this.running = this.running.filter((t) => t.endsAt > now);
    for (const task of due) {
      let error: unknown;
      try {
        task.plan?.complete?.(this.logFor(task));
      } catch (e) {
        error = e;
      }
      this.finish(task, task.endsAt, error);
    }
  }

  /** DELETE …/tasks/{upid}: the worker is killed (docs/proxmox-behaviour.md#task-status, `interrupted by signal`). */
  stop(task: SimTask, now: number): void {
    if (task.status !== "running") return;
    this.running = this.running.filter((t) => t !== task);
    task.plan?.abort?.();
    this.finish(task, now, new TaskFailure("interrupted by signal"));
  }

  private logFor(task: SimTask): TaskLog {
    return {
      line: (text) => {
        task.lines.push(text);
      },
      warn: (text) => {
        task.lines.push(`WARN: ${text}`);
        task.warnings++;
      },
    };
  }

  private finish(task: SimTask, at: number, error: unknown): void {
    const faults = this.deps.faults();
    if (error === undefined && faults.warn.includes(task.parts.type)) {
      this.logFor(task).warn("simulated warning (fault injection)");
    }
    if (error !== undefined) {
      // fork_worker chomps the die text and turns every newline into a space (docs/proxmox-behaviour.md#task-status).
      const text = (error instanceof Error ? error.message : String(error))
        .replace(/\n+$/, "")
        .replaceAll("\n", " ");
      task.lines.push(`TASK ERROR: ${text}`);
      task.exitstatus = text;
      task.onFailure?.();
    } else if (task.warnings > 0) {
      task.lines.push(`TASK WARNINGS: ${task.warnings}`);
      task.exitstatus = `WARNINGS: ${task.warnings}`;
    } else {
      task.lines.push("TASK OK");
      task.exitstatus = "OK";
    }
    task.status = "stopped";
    task.endtime = Math.floor(at / 1000);
    this.deps.onChange();
  }
}
