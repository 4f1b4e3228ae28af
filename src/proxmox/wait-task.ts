import { type Backoff, backoffCeilingMs, NO_JITTER } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";
import { ProxmoxApiError } from "./api-error.ts";
import type { PollSchedule, TaskLogPage, TaskResult, WaitTaskOptions } from "./client-types.ts";
import { isRetryableRead } from "./http.ts";
import { isTaskSuccess, type TaskStatus } from "./schema-task.ts";
import { TaskError, TaskTimeoutError, TaskWaitAbortedError } from "./task-error.ts";
import { parseUpid } from "./upid.ts";

export interface TaskWaitDeps {
  clock: Clock;
  schedule: PollSchedule;
  noSuchTaskWindowMs: number;
  callerTokenId?: string;
  status(upid: string, signal?: AbortSignal): Promise<TaskStatus>;
  log(upid: string, start: number, limit: number, signal?: AbortSignal): Promise<TaskLogPage>;
}

/** A task poll schedule as a back-off: `initialMs`, ×`factor` per poll, capped, not jittered. */
export function pollBackoff(s: PollSchedule): Backoff {
  return { baseMs: s.initialMs, factor: s.factor, capMs: s.maxMs, jitter: NO_JITTER };
}

/** Lines attached to a TaskError. */
export const TASK_ERROR_TAIL_LINES = 50;
/** Upper bound on log lines read to collect warnings. */
const WARNING_SCAN_LINES = 5000;
const LOG_PAGE = 500;

/**
 * When poll number `k` (from 0) is due, in ms after the wait began: the schedule's back-off
 * (250 ms first, for the many tasks that end within a second), but never sooner than
 * `k × maxMs`. So at every moment the wait has made no more polls than a loop that polls at
 * once and then every `maxMs`, and it sees a task's end no later than that loop
 * (docs/proxmox-behaviour.md#task-poll-timing).
 */
export function nextPollAtMs(s: PollSchedule, k: number, previousAtMs: number): number {
  const backoff = k === 0 ? s.initialMs : previousAtMs + backoffCeilingMs(pollBackoff(s), k);
  return Math.max(backoff, k * s.maxMs);
}

/**
 * Polls a task until it stops, on the schedule of `nextPollAtMs`; PVE's own clients poll at a
 * fixed 1–2 s (docs/proxmox-behaviour.md#task-not-yet-visible). `OK` and `WARNINGS: N` succeed
 * (docs/proxmox-behaviour.md#task-status).
 */
export async function waitForTask(
  deps: TaskWaitDeps,
  upid: string,
  opts: WaitTaskOptions,
): Promise<TaskResult> {
  const parsed = parseUpid(upid);
  const { clock } = deps;
  const schedule = opts.schedule ?? deps.schedule;
  const started = clock.now();
  const deadline = started + Math.max(0, opts.deadlineMs);
  let polls = 0;
  let dueAt = 0;
  let seenRunning = false;

  const aborted = (cause: unknown) => new TaskWaitAbortedError(upid, polls, cause);

  for (;;) {
    if (opts.signal?.aborted) throw aborted(opts.signal.reason);
    // The task was started a moment ago: the first look is after the schedule's first step.
    dueAt = nextPollAtMs(schedule, polls, dueAt);
    const wait = Math.min(started + dueAt, deadline) - clock.now();
    if (wait > 0) {
      try {
        await clock.sleep(wait, opts.signal);
      } catch (err) {
        throw aborted(opts.signal?.reason ?? err);
      }
    }
    let status: TaskStatus | undefined;
    try {
      status = await deps.status(upid, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw aborted(opts.signal.reason);
      // A task is not visible for a moment after its POST returned (docs/proxmox-behaviour.md#task-not-yet-visible).
      const notYet =
        err instanceof ProxmoxApiError &&
        err.isNoSuchTask &&
        !seenRunning &&
        clock.now() - started < deps.noSuchTaskWindowMs;
      // The read already retried transient failures; keep polling until the deadline.
      if (!notYet && !isRetryableRead(err)) throw err;
    }
    polls++;
    if (status) {
      seenRunning = true;
      opts.onProgress?.({ upid, status, polls, elapsedMs: clock.now() - started });
      if (status.status === "stopped") {
        const exitstatus = status.exitstatus ?? "unexpected status";
        if (isTaskSuccess(exitstatus)) {
          const warnings =
            exitstatus === "OK"
              ? []
              : await collectWarnings(deps, upid, opts.signal).catch(() => []);
          return { upid, exitstatus, warnings, polls, durationMs: clock.now() - started };
        }
        const logTail = await readTail(deps, upid, TASK_ERROR_TAIL_LINES, opts.signal).catch(
          () => [],
        );
        throw new TaskError({
          upid,
          node: parsed.node,
          type: parsed.type,
          id: parsed.id,
          exitstatus,
          logTail,
          callerTokenId: deps.callerTokenId,
        });
      }
    }
    const now = clock.now();
    if (now >= deadline) {
      throw new TaskTimeoutError(upid, now - started, polls, seenRunning ? "running" : "unknown");
    }
  }
}

/** The last `n` lines, using `total` to jump straight to the end (docs/proxmox-behaviour.md#task-log). */
export async function readTail(
  deps: Pick<TaskWaitDeps, "log">,
  upid: string,
  n: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const first = await deps.log(upid, 0, n, signal);
  if (first.total <= n) return first.lines.map((l) => l.t);
  const last = await deps.log(upid, first.total - n, n, signal);
  return last.lines.map((l) => l.t);
}

async function collectWarnings(
  deps: Pick<TaskWaitDeps, "log">,
  upid: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const warnings: string[] = [];
  for (let start = 0; start < WARNING_SCAN_LINES; start += LOG_PAGE) {
    const page = await deps.log(upid, start, LOG_PAGE, signal);
    for (const line of page.lines) {
      if (line.t.startsWith("WARN: ")) warnings.push(line.t.slice("WARN: ".length));
    }
    if (page.lines.length === 0 || start + LOG_PAGE >= page.total) break;
  }
  return warnings;
}
