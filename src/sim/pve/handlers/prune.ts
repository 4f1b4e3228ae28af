import type { RequestContext } from "../context.ts";
import { boolParam, strParam } from "../context.ts";
import { fail, paramError } from "../errors.ts";
import { markBackupGroup, type PruneEntry, parseRetention, type Retention } from "../prune.ts";
import type { SimStorage } from "../state.ts";

/**
 * `GET`/`DELETE /nodes/{node}/storage/{storage}/prunebackups` and the deletion of one backup
 * volume (docs/proxmox-behaviour.md#backup-retention-marks,
 * docs/proxmox-behaviour.md#deleting-a-backup-volume), on path storages.
 */

const STANDARD_NAME = /^vzdump-lxc-(\d+)-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.tar(\.[a-z]+)?$/;

function backupStorage(ctx: RequestContext): SimStorage {
  const id = strParam(ctx, "storage") ?? "";
  const s = ctx.core.state.storages.get(id);
  if (s === undefined) throw fail(`storage '${id}' does not exist`);
  if (!s.content.includes("backup")) throw fail(`storage '${id}' does not support backups`);
  return s;
}

function retentionOf(ctx: RequestContext, s: SimStorage): Retention {
  const text = strParam(ctx, "prune-backups") ?? s.pruneBackups;
  if (text === undefined)
    throw fail(`no prune-backups options configured for storage '${s.storage}'`);
  const r = parseRetention(text);
  if ("error" in r) throw paramError({ "prune-backups": `invalid format - ${r.error}` });
  return r;
}

interface Marked {
  volid: string;
  ctime: number;
  type: string;
  vmid?: number;
  mark: string;
}

/** PVE's marks for the storage's backups (one guest's with `vmid`), in volid order. */
function marks(s: SimStorage, r: Retention, vmid: number | undefined): Marked[] {
  const groups = new Map<number, PruneEntry[]>();
  const out: Marked[] = [];
  for (const v of s.volumes.values()) {
    if (v.content !== "backup" || v.vmid === undefined) continue;
    if (vmid !== undefined && v.vmid !== vmid) continue;
    const file = v.volid.slice(v.volid.indexOf("/") + 1);
    if (!STANDARD_NAME.test(file)) {
      out.push({ volid: v.volid, ctime: v.ctime, type: "lxc", vmid: v.vmid, mark: "renamed" });
      continue;
    }
    const group = groups.get(v.vmid) ?? [];
    group.push({ volid: v.volid, ctime: v.ctime, ...(v.protected ? { mark: "protected" } : {}) });
    groups.set(v.vmid, group);
  }
  for (const [id, group] of groups) {
    for (const e of markBackupGroup(group, r)) {
      out.push({ volid: e.volid, ctime: e.ctime, type: "lxc", vmid: id, mark: e.mark ?? "keep" });
    }
  }
  return out.sort((a, b) => (a.volid < b.volid ? -1 : a.volid > b.volid ? 1 : 0));
}

const vmidParam = (ctx: RequestContext) =>
  ctx.params.vmid === undefined ? undefined : Number(ctx.params.vmid);

/** The dry run: synchronous, changes nothing. */
export function pruneDryRun(ctx: RequestContext): unknown {
  const s = backupStorage(ctx);
  return marks(s, retentionOf(ctx, s), vmidParam(ctx));
}

/** The prune: `Datastore.AllocateSpace` + `VM.Backup` with a vmid, else `Datastore.Allocate`. */
export function pruneDelete(ctx: RequestContext): unknown {
  const { core } = ctx;
  const vmid = vmidParam(ctx);
  const id = strParam(ctx, "storage") ?? "";
  if (vmid !== undefined) {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.AllocateSpace"]);
    core.access.check(ctx.who, `/vms/${vmid}`, ["VM.Backup"]);
  } else {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.Allocate"]);
  }
  return core.tasks.spawn({
    type: "prunebackups",
    id: vmid === undefined ? id : `${vmid}@${id}`,
    principal: ctx.who,
    work: (log) => {
      // Configuration errors surface inside the task, not at the call.
      const s = backupStorage(ctx);
      const doomed = marks(s, retentionOf(ctx, s), vmid).filter((m) => m.mark === "remove");
      for (const m of doomed) {
        log.line(`removing backup '${m.volid}'`);
        s.volumes.delete(m.volid);
      }
      core.state.touch();
      return undefined;
    },
  }).upid;
}

/** One volume: an `imgdel` task; a protected backup fails inside it. */
export function deleteVolume(ctx: RequestContext): unknown {
  const { core } = ctx;
  const id = strParam(ctx, "storage") ?? "";
  const s = core.state.storages.get(id);
  if (s === undefined) throw fail(`storage '${id}' does not exist`);
  const raw = strParam(ctx, "volume") ?? "";
  const volid = raw.includes(":") ? raw : `${id}:${raw}`;
  const sid = volid.slice(0, volid.indexOf(":"));
  if (sid !== id) throw paramError({ volume: `storage ID mismatch (${sid} != ${id})` });
  const v = s.volumes.get(volid);
  if (v?.content === "backup" && v.vmid !== undefined) {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.AllocateSpace"]);
    core.access.check(ctx.who, `/vms/${v.vmid}`, ["VM.Backup"]);
  } else {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.Allocate"]);
  }
  return core.tasks.spawn({
    type: "imgdel",
    id: v?.vmid === undefined ? id : `${v.vmid}@${id}`,
    principal: ctx.who,
    work: (log) => {
      const now = s.volumes.get(volid);
      if (now === undefined) throw new Error(`volume '${volid}' does not exist`);
      if (now.protected) {
        throw new Error(
          `cannot remove protected volume '${volid.slice(id.length + 1)}' on '${id}'`,
        );
      }
      s.volumes.delete(volid);
      log.line(`Removed volume '${volid}'`);
      core.state.touch();
      return undefined;
    },
  }).upid;
}

/**
 * `PUT /nodes/{node}/storage/{storage}/content/{volume}`: a volume's notes and protection,
 * synchronous, `null` (docs/proxmox-behaviour.md#protected-backups). Access as for deleting
 * the volume (a backup with an owner: `Datastore.AllocateSpace` on the storage and
 * `VM.Backup` on the guest); protecting one more backup of a guest past the storage's
 * `max-protected-backups` (default 5, unlimited for a caller with `Datastore.Allocate` on the
 * storage) is refused.
 */
export function updateVolumeAttributes(ctx: RequestContext): unknown {
  const { core } = ctx;
  const id = strParam(ctx, "storage") ?? "";
  const s = core.state.storages.get(id);
  if (s === undefined) throw fail(`storage '${id}' does not exist`);
  const raw = strParam(ctx, "volume") ?? "";
  const volid = raw.includes(":") ? raw : `${id}:${raw}`;
  const sid = volid.slice(0, volid.indexOf(":"));
  if (sid !== id) throw paramError({ volume: `storage ID mismatch (${sid} != ${id})` });
  const v = s.volumes.get(volid);
  if (v?.content === "backup" && v.vmid !== undefined) {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.AllocateSpace"]);
    core.access.check(ctx.who, `/vms/${v.vmid}`, ["VM.Backup"]);
  } else {
    core.access.check(ctx.who, `/storage/${id}`, ["Datastore.Allocate"]);
  }
  if (v === undefined) throw fail(`volume '${volid}' does not exist`);
  if (ctx.params.notes !== undefined) v.notes = strParam(ctx, "notes") ?? "";
  if (ctx.params.protected !== undefined) {
    const want = boolParam(ctx, "protected");
    if (want && v.protected !== true && v.content === "backup" && v.vmid !== undefined) {
      const max =
        s.maxProtectedBackups ??
        (core.access.has(ctx.who, `/storage/${id}`, "Datastore.Allocate") ? -1 : 5);
      const count = [...s.volumes.values()].filter(
        (o) => o.content === "backup" && o.vmid === v.vmid && o.protected === true,
      ).length;
      if (max > -1 && count >= max) {
        throw fail(
          `The number of protected backups per guest is limited to ${max} on storage '${id}'`,
        );
      }
    }
    v.protected = want;
  }
  core.state.touch();
  return null;
}
