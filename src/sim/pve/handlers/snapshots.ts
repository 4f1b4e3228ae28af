import type { RequestContext } from "../context.ts";
import { boolParam, intParam, strParam } from "../context.ts";
import { fail, missingCt } from "../errors.ts";
import type { CtGuest } from "../state.ts";
import { copyConfig, fnv1a, lockMessage, requireGuest } from "./common.ts";
import { markStarted, markStopped } from "./lxc-power.ts";

/**
 * GET …/snapshot: hash order, then the `current` entry (docs/proxmox-behaviour.md#snapshots-and-descriptions). FNV order of the names
 * stands in for Perl's hash order: stable, and not sorted.
 */
export function listSnapshots(ctx: RequestContext): unknown {
  const g = requireGuest(ctx);
  const snaps = [...g.snapshots.values()].sort((a, b) => fnv1a(a.name) - fnv1a(b.name));
  const out: Record<string, unknown>[] = snaps.map((s) => {
    const e: Record<string, unknown> = {
      name: s.name,
      snaptime: s.snaptime,
      description: s.description,
    };
    if (s.parent !== undefined) e.parent = s.parent;
    if (s.snapstate !== undefined) e.snapstate = s.snapstate;
    return e;
  });
  const current: Record<string, unknown> = {
    name: "current",
    digest: ctx.core.state.digest(g),
    running: g.running ? 1 : 0,
    description: "You are here!",
  };
  if (g.parent !== undefined) current.parent = g.parent;
  out.push(current);
  return out;
}

/**
 * The worker's view of the CT: snapshot endpoints check nothing before fork, so a missing CT
 * still gets a UPID and fails in the task (docs/proxmox-behaviour.md#locks).
 */
function guestInTask(ctx: RequestContext, vmid: number): CtGuest {
  const g = ctx.core.state.guests.get(vmid);
  if (g === undefined) throw missingCt(ctx.core.node, vmid);
  const locked = lockMessage(g);
  if (locked !== undefined) throw new Error(locked);
  return g;
}

const RESERVED = new Set(["current", "vzdump", "pending"]);

export function createSnapshot(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const snapname = strParam(ctx, "snapname") ?? "";
  if (RESERVED.has(snapname.toLowerCase())) {
    throw fail(`unable to use snapshot name '${snapname}' (reserved name)`);
  }
  const description = strParam(ctx, "description") ?? "";
  return core.tasks.spawn({
    type: "vzsnapshot",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: (log) => {
      const g = guestInTask(ctx, vmid);
      if (g.snapshots.has(snapname)) throw new Error(`snapshot name '${snapname}' already used`);
      // snapshot_prepare: the entry exists half-made and the CT is locked while the task runs.
      const config = copyConfig(g.config);
      g.config.lock = "snapshot";
      g.snapshots.set(snapname, {
        name: snapname,
        description,
        snaptime: Math.floor(core.clock.now() / 1000),
        ...(g.parent === undefined ? {} : { parent: g.parent }),
        snapstate: "prepare",
        config,
      });
      core.state.touch();
      log.line(`create snapshot '${snapname}'`);
      return {
        complete: () => {
          const snap = g.snapshots.get(snapname);
          if (snap !== undefined) delete snap.snapstate;
          delete g.config.lock;
          g.parent = snapname;
          core.state.touch();
        },
      };
    },
  }).upid;
}

export function rollback(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const snapname = strParam(ctx, "snapname") ?? "";
  const startAfter = boolParam(ctx, "start");
  return core.tasks.spawn({
    type: "vzrollback",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: (log) => {
      const g = guestInTask(ctx, vmid);
      const snap = g.snapshots.get(snapname);
      if (snap === undefined) throw new Error(`snapshot '${snapname}' does not exist`);
      g.config.lock = "rollback";
      if (g.running) {
        log.line("stopping container");
        markStopped(g);
      }
      core.state.touch();
      return {
        complete: () => {
          g.config = copyConfig(snap.config);
          delete g.config.lock;
          g.pending = {};
          g.pendingDelete.clear();
          g.parent = snapname;
          if (startAfter) markStarted(core, g);
          core.state.touch();
        },
      };
    },
  }).upid;
}

export function deleteSnapshot(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const snapname = strParam(ctx, "snapname") ?? "";
  return core.tasks.spawn({
    type: "vzdelsnapshot",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: () => {
      const g = guestInTask(ctx, vmid);
      const snap = g.snapshots.get(snapname);
      if (snap === undefined) throw new Error(`snapshot '${snapname}' does not exist`);
      snap.snapstate = "delete";
      g.config.lock = "snapshot-delete";
      core.state.touch();
      return {
        complete: () => {
          g.snapshots.delete(snapname);
          for (const s of g.snapshots.values()) {
            if (s.parent !== snapname) continue;
            if (snap.parent === undefined) delete s.parent;
            else s.parent = snap.parent;
          }
          if (g.parent === snapname) {
            if (snap.parent === undefined) delete g.parent;
            else g.parent = snap.parent;
          }
          delete g.config.lock;
          core.state.touch();
        },
      };
    },
  }).upid;
}

/** GET …/snapshot/{snapname}/config. */
export function snapshotConfig(ctx: RequestContext): unknown {
  const g = requireGuest(ctx);
  const snapname = strParam(ctx, "snapname") ?? "";
  const snap = g.snapshots.get(snapname);
  if (snap === undefined) throw fail(`snapshot '${snapname}' does not exist`);
  return { ...snap.config, digest: ctx.core.state.digest(g) };
}

/** PUT …/snapshot/{snapname}/config: description only, synchronous (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export function updateSnapshotConfig(ctx: RequestContext): null {
  const g = requireGuest(ctx);
  const snapname = strParam(ctx, "snapname") ?? "";
  const snap = g.snapshots.get(snapname);
  if (snap === undefined) throw fail(`snapshot '${snapname}' does not exist`);
  const description = strParam(ctx, "description");
  if (description !== undefined) snap.description = description;
  ctx.core.state.touch();
  return null;
}
