import { z } from "zod";
import { ProxmoxApiError } from "../proxmox/api-error.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { isTaskSuccess } from "../proxmox/schema-task.ts";
import { TaskError } from "../proxmox/task-error.ts";
import { parseUpid } from "../proxmox/upid.ts";
import type { Journal, JournalEntry } from "../store/journal.ts";
import { RECOVERY_ACTION } from "../store/journal.ts";
import type { ClockOffset } from "./clock-offset.ts";
import { type ExecClient, type ExecOp, executorFor, type OpExecutor } from "./executors.ts";
import { classifyFailure } from "./failure.ts";
import { findPostedTask } from "./find-task.ts";

/** The journal writes recovery makes (the engine passes one that keeps guest identities too). */
export type RecoveryJournal = Pick<Journal, "forGuest" | "recordUpid" | "recordTerminal">;

export type ResolveClient = ExecClient &
  Pick<ProxmoxClient, "listTasks" | "taskStatusOnce" | "nodeTime" | "tokenId">;

/**
 * How an in-flight journal entry was settled. Every kind but `resume_wait` and `unknown` has
 * been written to the journal as a terminal phase; `resume_wait` means the task is still
 * running and its UPID is (now) recorded: the caller waits for it. `unknown`: no task is listed
 * yet and the window in which one may still appear is open; nothing was written and the entry
 * stays in flight (its guest blocked) until `untilMs` or a later look finds the task.
 */
export type Resolution =
  | { kind: "done" | "failed" | "abandoned"; entryId: number; how: string }
  | { kind: "resume_wait"; entryId: number; upid: string; how: string }
  | { kind: "unknown"; entryId: number; how: string; untilMs: number };

/** What deciding about a lost answer needs besides the entry (docs/reconcile.md#lost-answers). */
export interface LostAnswerRules {
  /** Our clock, the one `createdAt` was written with. */
  now(): number;
  /** How long after the intent a task may still appear in the task list. */
  windowMs: number;
  /** The node's clock against ours, to match start times (docs/reconcile.md#clock-offset). */
  offset(): Promise<ClockOffset>;
}

/**
 * Settles a journal entry left `intent` or `posted` by a crash or by a POST whose answer was
 * lost, from Proxmox's real state (STYLE: one recovery action per persisted phase,
 * store RECOVERY_ACTION). Never re-sends the POST. A task that is not listed is not proof the
 * POST never ran (a slow pveproxy may hand it on after our timeout, and a fresh task may not be
 * listed at once): the entry stays `unknown` until the window has passed, then the guest's
 * state is read again and the entry closed `done` (the effect is visible) or `abandoned` (the
 * next pass re-plans from actual state). Network failures propagate, leaving the entry in
 * flight (its guest stays blocked) for the next attempt.
 */
export async function resolveInFlight(
  client: ResolveClient,
  journal: RecoveryJournal,
  entry: JournalEntry,
  label: string,
  rules: LostAnswerRules,
): Promise<Resolution> {
  if (RECOVERY_ACTION[entry.phase as "intent" | "posted"] === "resume_wait") {
    if (entry.upid === null) {
      return terminal(journal, entry.id, "abandoned", `${label}: posted without a UPID`);
    }
    return checkTask(client, journal, entry.id, entry.upid, `${label}: task ${entry.upid}`);
  }
  const exec = executorFor(entry.op);
  if (exec === undefined || entry.vmid === null) {
    return terminal(
      journal,
      entry.id,
      "abandoned",
      `${label}: ${entry.op} cannot be checked by this agent; nothing was re-sent`,
    );
  }
  if (exec.taskType !== null) {
    const task = await findPostedTask(client, journal, entry, exec.taskType, await rules.offset());
    if (task !== undefined) {
      journal.recordUpid(entry.id, task.upid);
      return checkTask(
        client,
        journal,
        entry.id,
        task.upid,
        `${label}: found task ${task.upid} in the task list`,
      );
    }
    const untilMs = entry.createdAt + rules.windowMs;
    if (rules.now() < untilMs) {
      return {
        kind: "unknown",
        entryId: entry.id,
        untilMs,
        how: `${label}: no ${exec.taskType} task listed yet; unknown until ${new Date(untilMs).toISOString()}`,
      };
    }
    if (exec.inEffect === undefined) {
      return terminal(
        journal,
        entry.id,
        "abandoned",
        `${label}: no ${exec.taskType} task was started within ${rules.windowMs / 1000} s, so the request never reached Proxmox; re-planned from actual state`,
      );
    }
    return settleByEffect(
      client,
      journal,
      entry,
      exec,
      `${label}: no ${exec.taskType} task was started within ${rules.windowMs / 1000} s`,
    );
  }
  if (exec.inEffect === undefined) {
    return terminal(
      journal,
      entry.id,
      "abandoned",
      `${label}: ${entry.op} cannot be checked by this agent; nothing was re-sent`,
    );
  }
  return settleByEffect(client, journal, entry, exec, label);
}

/** Reads the guest again: the change in effect closes the entry `done`, else `abandoned`. */
async function settleByEffect(
  client: ResolveClient,
  journal: RecoveryJournal,
  entry: JournalEntry,
  exec: OpExecutor<ExecOp>,
  label: string,
): Promise<Resolution> {
  const inEffect = exec.inEffect;
  if (inEffect === undefined || entry.vmid === null) {
    return terminal(journal, entry.id, "abandoned", `${label}; nothing was re-sent`);
  }
  let visible: boolean;
  try {
    visible = await inEffect(client, entry.vmid, exec.parseParams(entry.params));
  } catch (err) {
    if (err instanceof ProxmoxApiError && err.kind === "not_found_ct") {
      return terminal(journal, entry.id, "abandoned", `${label}: the guest no longer exists`);
    }
    if (err instanceof z.ZodError) {
      return terminal(journal, entry.id, "abandoned", `${label}: stored params are invalid`);
    }
    throw err;
  }
  return visible
    ? terminal(journal, entry.id, "done", `${label}: the change is in effect`)
    : terminal(
        journal,
        entry.id,
        "abandoned",
        `${label}: the change is not in effect, so the request never took; re-planned from actual state`,
      );
}

async function checkTask(
  client: ResolveClient,
  journal: RecoveryJournal,
  entryId: number,
  upid: string,
  how: string,
): Promise<Resolution> {
  let status: Awaited<ReturnType<ResolveClient["taskStatusOnce"]>>;
  try {
    status = await client.taskStatusOnce(upid);
  } catch (err) {
    // The node was rebooted or the task log rotated away: its outcome cannot be known.
    if (err instanceof ProxmoxApiError && err.isNoSuchTask) {
      return terminal(journal, entryId, "abandoned", `${how}: Proxmox no longer knows the task`);
    }
    throw err;
  }
  if (status.status === "running") {
    return { kind: "resume_wait", entryId, upid, how: `${how}: still running, waiting resumed` };
  }
  const exitstatus = status.exitstatus ?? "unexpected status";
  if (isTaskSuccess(exitstatus)) {
    return terminal(journal, entryId, "done", `${how}: ended ${exitstatus}`);
  }
  const parsed = parseUpid(upid);
  const failure = classifyFailure(
    new TaskError({
      upid,
      node: parsed.node,
      type: parsed.type,
      id: parsed.id,
      exitstatus,
      logTail: [],
    }),
  );
  return terminal(journal, entryId, "failed", `${how}: ended with an error`, {
    class: failure.class,
    cause: failure.cause,
    ...failure.detail,
  });
}

function terminal(
  journal: RecoveryJournal,
  entryId: number,
  kind: "done" | "failed" | "abandoned",
  how: string,
  error?: Record<string, unknown>,
): Resolution {
  journal.recordTerminal(entryId, kind, {
    resolution: how.slice(0, 1024),
    ...(error ? { error } : {}),
  });
  return { kind, entryId, how };
}
