import type { RequestContext, SimCore } from "../context.ts";
import { boolParam, intParam } from "../context.ts";
import { fail } from "../errors.ts";
import type { CtGuest } from "../state.ts";
import { lockMessage, requireGuest } from "./common.ts";

/** Pending changes are applied when a CT starts (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export function applyPending(g: CtGuest): void {
  Object.assign(g.config, g.pending);
  for (const k of g.pendingDelete) delete g.config[k];
  g.pending = {};
  g.pendingDelete.clear();
}

export function markStarted(core: SimCore, g: CtGuest): void {
  applyPending(g);
  g.running = true;
  g.startedAtMs = core.clock.now();
  g.pid = core.tasks.nextPid();
}

export function markStopped(g: CtGuest): void {
  g.running = false;
  delete g.startedAtMs;
  delete g.pid;
}

/** start: `CT N already running` is synchronous; lock errors happen in the task (docs/proxmox-behaviour.md#locks). */
export function start(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  if (g.running) throw fail(`CT ${vmid} already running`);
  const skiplock = boolParam(ctx, "skiplock");
  return core.tasks.spawn({
    type: "vzstart",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: () => {
      const locked = lockMessage(g);
      if (locked !== undefined && !skiplock) throw new Error(locked);
      return {
        complete: () => {
          if (!core.state.guests.has(vmid)) throw new Error(`CT ${vmid} does not exist`);
          markStarted(core, g);
          core.state.touch();
        },
      };
    },
  }).upid;
}

/** stop/shutdown: `CT N not running` is synchronous (docs/proxmox-behaviour.md#locks). */
function stopLike(ctx: RequestContext, type: "vzstop" | "vzshutdown"): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  if (!g.running) throw fail(`CT ${vmid} not running`);
  const skiplock = boolParam(ctx, "skiplock");
  return core.tasks.spawn({
    type,
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: () => {
      const locked = lockMessage(g);
      if (locked !== undefined && !skiplock) throw new Error(locked);
      return {
        complete: () => {
          markStopped(g);
          core.state.touch();
        },
      };
    },
  }).upid;
}

export function stop(ctx: RequestContext): string {
  return stopLike(ctx, "vzstop");
}

export function shutdown(ctx: RequestContext): string {
  return stopLike(ctx, "vzshutdown");
}

export function reboot(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  if (!g.running) throw fail(`CT ${vmid} not running`);
  return core.tasks.spawn({
    type: "vzreboot",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: () => {
      const locked = lockMessage(g);
      if (locked !== undefined) throw new Error(locked);
      return {
        complete: () => {
          markStopped(g);
          markStarted(core, g);
          core.state.touch();
        },
      };
    },
  }).upid;
}
