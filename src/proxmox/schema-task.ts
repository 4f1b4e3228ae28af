import { z } from "zod";
import { lenientInt, lenientString } from "./lenient.ts";
import { isUpid, type Upid } from "./upid.ts";

/** A UPID returned by an asynchronous endpoint (docs/proxmox-behaviour.md#upid-format, docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export const upidSchema = z.string().refine(isUpid, "expected a task UPID");

/** PUT config is synchronous (null) today, but may return a UPID later (docs/proxmox-behaviour.md#schema-caveats). */
export const nullOrUpidSchema = z.union([z.null(), upidSchema]);

/**
 * Task status is the decoded UPID plus the run state (docs/proxmox-behaviour.md#task-status), so
 * it carries the `Upid` fields, except that `user` has the token name split off.
 */
export interface TaskStatus extends Omit<Upid, "user"> {
  upid: string;
  /** `user@realm`; for a token the token name is split into `tokenid` (docs/proxmox-behaviour.md#task-status). */
  user: string;
  tokenid?: string;
  status: "running" | "stopped";
  /** Present once stopped: `OK`, `WARNINGS: N`, or the error text (docs/proxmox-behaviour.md#task-status). */
  exitstatus?: string;
}

export const taskStatusSchema = z
  .object({
    upid: z.string(),
    node: z.string(),
    pid: lenientInt,
    pstart: lenientInt,
    starttime: lenientInt,
    type: z.string(),
    id: lenientString.optional(),
    user: z.string(),
    tokenid: z.string().optional(),
    status: z.enum(["running", "stopped"]),
    exitstatus: z.string().optional(),
  })
  .loose()
  .transform(
    (t): TaskStatus => ({
      upid: t.upid,
      node: t.node,
      pid: t.pid,
      pstart: t.pstart,
      starttime: t.starttime,
      type: t.type,
      id: t.id ?? "",
      user: t.user,
      tokenid: t.tokenid,
      status: t.status,
      exitstatus: t.exitstatus,
    }),
  );

/** `exitstatus` values that mean success (docs/proxmox-behaviour.md#task-status status_is_error). */
export function isTaskSuccess(exitstatus: string | undefined): boolean {
  return exitstatus === "OK" || (exitstatus !== undefined && /^WARNINGS: \d+$/.test(exitstatus));
}

export interface TaskSummary {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  starttime: number;
  /** Only the task list has endtime (docs/proxmox-behaviour.md#task-status). */
  endtime?: number;
  /** Missing while running; else the exitstatus text. */
  status?: string;
}

export const taskSummarySchema = z
  .object({
    upid: z.string(),
    node: z.string(),
    type: z.string(),
    id: lenientString.optional(),
    user: z.string(),
    starttime: lenientInt,
    endtime: lenientInt.optional(),
    status: z.string().optional(),
  })
  .loose()
  .transform(
    (t): TaskSummary => ({
      upid: t.upid,
      node: t.node,
      type: t.type,
      id: t.id ?? "",
      user: t.user,
      starttime: t.starttime,
      endtime: t.endtime,
      status: t.status,
    }),
  );

export interface TaskLogLine {
  /** 1-based line number (docs/proxmox-behaviour.md#task-log). */
  n: number;
  t: string;
}

export const taskLogSchema = z
  .array(z.object({ n: lenientInt, t: z.string() }).loose())
  .transform((lines): TaskLogLine[] => lines.map((l) => ({ n: l.n, t: l.t })));
