import type { RequestContext } from "../context.ts";
import { boolParam, PreSerialized, strParam } from "../context.ts";
import { fail } from "../errors.ts";
import { vmstatus } from "../vmstatus.ts";
import { requireGuest } from "./common.ts";

/**
 * GET /nodes/{node}/lxc: silently filtered to CTs with VM.Audit (docs/proxmox-behaviour.md#endpoint-summary, docs/proxmox-behaviour.md#api-tokens). The
 * serialized list is cached per caller, state version and second, because building 500
 * entries on every poll is the simulator's hot path.
 */
export function listLxc(ctx: RequestContext): PreSerialized {
  const { core } = ctx;
  const now = core.clock.now();
  const key = `lxc\0${ctx.who.fullid}\0${core.state.version}\0${Math.floor(now / 1000)}`;
  const cached = core.listCache.get(key);
  if (cached !== undefined) return new PreSerialized(cached);
  const out: Record<string, unknown>[] = [];
  for (const g of core.state.guests.values()) {
    if (!core.access.has(ctx.who, `/vms/${g.vmid}`, "VM.Audit")) continue;
    out.push(vmstatus(core, g, now));
  }
  const json = JSON.stringify(out);
  if (core.listCache.size > 64) core.listCache.clear();
  core.listCache.set(key, json);
  return new PreSerialized(json);
}

export function statusCurrent(ctx: RequestContext): unknown {
  const g = requireGuest(ctx);
  // status/current adds `ha` (docs/proxmox-behaviour.md#units).
  return { ...vmstatus(ctx.core, g, ctx.core.clock.now()), ha: { managed: 0 } };
}

/**
 * GET config: pending values unless `current=1` (docs/proxmox-behaviour.md#sync-and-async-endpoints), always a `digest`, or the config of
 * a snapshot with `snapshot=NAME`.
 */
export function getConfig(ctx: RequestContext): unknown {
  const g = requireGuest(ctx);
  const snapname = strParam(ctx, "snapshot");
  if (snapname !== undefined) {
    const snap = g.snapshots.get(snapname);
    if (snap === undefined) throw fail(`snapshot '${snapname}' does not exist`);
    const conf: Record<string, unknown> = { ...snap.config, digest: ctx.core.state.digest(g) };
    hideRestricted(ctx, g.vmid, conf);
    return conf;
  }
  const conf: Record<string, unknown> = { ...g.config };
  if (!boolParam(ctx, "current")) {
    Object.assign(conf, g.pending);
    for (const k of g.pendingDelete) delete conf[k];
  }
  if (g.parent !== undefined) conf.parent = g.parent;
  conf.digest = ctx.core.state.digest(g);
  hideRestricted(ctx, g.vmid, conf);
  return conf;
}

/**
 * `env` is read-restricted: without VM.Config.Options it is left out silently, no error, no
 * placeholder, and the digest still covers it (docs/proxmox-behaviour.md#the-lxc-env-option).
 */
function hideRestricted(ctx: RequestContext, vmid: number, conf: Record<string, unknown>): void {
  if (!ctx.core.access.has(ctx.who, `/vms/${vmid}`, "VM.Config.Options")) delete conf.env;
}

/** GET …/pending: current value, pending value and pending deletion per key (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export function getPending(ctx: RequestContext): unknown {
  const g = requireGuest(ctx);
  const keys = new Set([...Object.keys(g.config), ...Object.keys(g.pending), ...g.pendingDelete]);
  const out: Record<string, unknown>[] = [];
  const hidden = !ctx.core.access.has(ctx.who, `/vms/${g.vmid}`, "VM.Config.Options");
  for (const key of [...keys].sort()) {
    if (hidden && key === "env") continue;
    const e: Record<string, unknown> = { key };
    if (g.config[key] !== undefined) e.value = g.config[key];
    if (g.pending[key] !== undefined) e.pending = g.pending[key];
    if (g.pendingDelete.has(key)) e.delete = 1;
    out.push(e);
  }
  return out;
}
