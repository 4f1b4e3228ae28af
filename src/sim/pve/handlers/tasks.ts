import { parseUpid, splitTaskUser } from "../../../proxmox/upid.ts";
import type { RequestContext } from "../context.ts";
import { intParam, strParam, WithTotal } from "../context.ts";
import { paramError } from "../errors.ts";
import type { SimTask } from "../tasks.ts";

/** The owner passes; a user also owns its tokens' tasks (docs/proxmox-behaviour.md#task-status). */
function owns(ctx: RequestContext, task: SimTask): boolean {
  const user = task.parts.user;
  if (user === ctx.who.fullid) return true;
  return ctx.who.tokenid === undefined && user.startsWith(`${ctx.who.userid}!`);
}

/** 400 `unable to parse worker upid` / `no such task` (docs/proxmox-behaviour.md#upid-format). */
function findTask(ctx: RequestContext): SimTask {
  const upid = strParam(ctx, "upid") ?? "";
  try {
    parseUpid(upid);
  } catch {
    throw paramError({ upid: "unable to parse worker upid" });
  }
  const task = ctx.core.tasks.get(upid);
  if (task === undefined) throw paramError({ upid: "no such task" });
  if (!owns(ctx, task)) ctx.core.access.check(ctx.who, `/nodes/${ctx.core.node}`, ["Sys.Audit"]);
  return task;
}

/** Token-started tasks show `user` without the token and a separate `tokenid` (docs/proxmox-behaviour.md#task-status). */
function taskFields(task: SimTask): Record<string, unknown> {
  const { user, tokenid } = splitTaskUser(task.parts.user);
  const out: Record<string, unknown> = {
    upid: task.upid,
    node: task.parts.node,
    pid: task.parts.pid,
    pstart: task.parts.pstart,
    starttime: task.parts.starttime,
    type: task.parts.type,
    id: task.parts.id,
    user,
  };
  if (tokenid !== undefined) out.tokenid = tokenid;
  return out;
}

/** No `endtime` in status; `exitstatus` only once stopped (docs/proxmox-behaviour.md#task-status). */
export function taskStatus(ctx: RequestContext): unknown {
  const task = findTask(ctx);
  const out = { ...taskFields(task), status: task.status };
  return task.exitstatus === undefined ? out : { ...out, exitstatus: task.exitstatus };
}

/**
 * Log lines `{n, t}` with 1-based `n`, `total` beside `data`, `limit=0` = to the end, and a
 * single `no content` line for an empty log (docs/proxmox-behaviour.md#task-log).
 */
export function taskLog(ctx: RequestContext): WithTotal {
  const task = findTask(ctx);
  if (
    ctx.params.download !== undefined &&
    (ctx.params.start !== undefined || ctx.params.limit !== undefined)
  ) {
    throw paramError({
      download: "'download' cannot be used together with 'start' or 'limit' parameters",
    });
  }
  const start = ctx.params.start === undefined ? 0 : intParam(ctx, "start");
  const limit = ctx.params.limit === undefined ? 50 : intParam(ctx, "limit");
  const lines = task.lines;
  if (lines.length === 0) return new WithTotal([{ n: 1, t: "no content" }], 1);
  const end = limit === 0 ? lines.length : Math.min(lines.length, start + limit);
  const out: { n: number; t: string }[] = [];
  for (let i = start; i < end; i++) out.push({ n: i + 1, t: lines[i] as string });
  return new WithTotal(out, lines.length);
}

/** DELETE …/tasks/{upid}: owner, or Sys.Modify on the node. */
export function stopTask(ctx: RequestContext): null {
  const upid = strParam(ctx, "upid") ?? "";
  try {
    parseUpid(upid);
  } catch {
    throw paramError({ upid: "unable to parse worker upid" });
  }
  const task = ctx.core.tasks.get(upid);
  if (task === undefined) throw paramError({ upid: "no such task" });
  if (!owns(ctx, task)) ctx.core.access.check(ctx.who, `/nodes/${ctx.core.node}`, ["Sys.Modify"]);
  ctx.core.tasks.stop(task, ctx.core.clock.now());
  return null;
}

/**
 * GET /nodes/{node}/tasks: the caller's own tasks, or all with Sys.Audit on the node; newest
 * first; finished tasks carry `status` (the exit status) and `endtime`.
 */
export function listTasks(ctx: RequestContext): unknown {
  const { core } = ctx;
  const all = core.access.has(ctx.who, `/nodes/${core.node}`, "Sys.Audit");
  const source = strParam(ctx, "source") ?? "archive";
  const vmid = ctx.params.vmid === undefined ? undefined : String(ctx.params.vmid);
  const typefilter = strParam(ctx, "typefilter");
  const userfilter = strParam(ctx, "userfilter");
  const errorsOnly =
    ctx.params.errors === 1 || ctx.params.errors === true || ctx.params.errors === "1";
  const start = ctx.params.start === undefined ? 0 : intParam(ctx, "start");
  const limit = ctx.params.limit === undefined ? 50 : intParam(ctx, "limit");
  // Only tasks started at or after this epoch second (docs/proxmox-behaviour.md#task-list).
  const since = ctx.params.since === undefined ? undefined : intParam(ctx, "since");
  const picked: Record<string, unknown>[] = [];
  const tasks = core.tasks.list();
  for (let i = tasks.length - 1; i >= 0; i--) {
    const t = tasks[i] as SimTask;
    if (!all && !owns(ctx, t)) continue;
    if (source === "archive" && t.status === "running") continue;
    if (source === "active" && t.status !== "running") continue;
    if (vmid !== undefined && t.parts.id !== vmid) continue;
    if (typefilter !== undefined && t.parts.type !== typefilter) continue;
    if (since !== undefined && t.parts.starttime < since) continue;
    if (userfilter !== undefined && !t.parts.user.includes(userfilter)) continue;
    if (errorsOnly && (t.exitstatus === undefined || t.exitstatus === "OK")) continue;
    const e = taskFields(t);
    if (t.status === "stopped") {
      e.status = t.exitstatus;
      e.endtime = t.endtime;
    }
    picked.push(e);
  }
  return picked.slice(start, start + limit);
}
