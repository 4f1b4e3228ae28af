import type { RequestContext } from "../context.ts";
import { boolParam, strParam } from "../context.ts";
import { fail } from "../errors.ts";
import {
  backupLimit,
  formatRetention,
  markBackupGroup,
  type PruneEntry,
  parseRetention,
  type Retention,
} from "../prune.ts";
import type { CtGuest, SimStorage } from "../state.ts";
import type { TaskLog } from "../tasks.ts";
import { copyConfig, lockMessage, splitList } from "./common.ts";

const EXT: Record<string, string> = {
  "0": "tar",
  gzip: "tar.gz",
  "1": "tar.lzo",
  lzo: "tar.lzo",
  zstd: "tar.zst",
};

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

/** `vzdump-lxc-<vmid>-YYYY_MM_DD-HH_MM_SS.<ext>`: the names pruning considers (others are kept). */
const STANDARD_NAME = /^vzdump-lxc-(\d+)-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}\.tar(\.[a-z]+)?$/;

function timeText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * The retention a vzdump call applies: the call's `prune-backups`, else the storage's, else
 * keep-all (docs/proxmox-behaviour.md#vzdump-remove). Both were validated when they were set.
 */
function effectiveRetention(param: string | undefined, storage: SimStorage): Retention {
  const text = param ?? storage.pruneBackups;
  if (text === undefined) return { keepAll: true };
  const r = parseRetention(text);
  // Unreachable for valid input: the schema refuses such a parameter and the seed such a storage.
  if ("error" in r) throw fail(`invalid prune-backups '${text}': ${r.error}`);
  return r;
}

/** Storage types whose volumes can take a snapshot (docs/proxmox-behaviour.md#vzdump-modes-and-failures). */
const SNAPSHOT_TYPES = new Set(["lvmthin", "zfspool", "rbd", "btrfs"]);

/** Whether every volume of the guest (rootfs and mount points) is on such a storage. */
function canSnapshot(storages: ReadonlyMap<string, SimStorage>, g: CtGuest): boolean {
  for (const [key, value] of Object.entries(g.config)) {
    if (key !== "rootfs" && !/^mp\d+$/.test(key)) continue;
    const volume = String(value).split(",")[0] ?? "";
    const colon = volume.indexOf(":");
    if (colon <= 0) continue; // a bind mount is not backed up
    const type = storages.get(volume.slice(0, colon))?.type;
    if (type === undefined || !SNAPSHOT_TYPES.has(type)) return false;
  }
  return true;
}

/** This guest's backups on the storage, as vzdump's pre-check and pruning see them. */
function backupsOf(storage: SimStorage, vmid: number) {
  return [...storage.volumes.values()].filter((v) => v.content === "backup" && v.vmid === vmid);
}

/**
 * pve-storage `prune_backups` for one guest after its archive is written: marks the group,
 * removes the `remove` entries in listing (volid) order, logging as vzdump does.
 */
function pruneGroup(storage: SimStorage, vmid: number, r: Retention, log: TaskLog): void {
  log.line(`INFO: prune older backups with retention: ${formatRetention(r)}`);
  const group: PruneEntry[] = [];
  for (const v of backupsOf(storage, vmid)) {
    const file = v.volid.slice(v.volid.indexOf("/") + 1);
    if (!STANDARD_NAME.test(file)) continue;
    group.push({ volid: v.volid, ctime: v.ctime, ...(v.protected ? { mark: "protected" } : {}) });
  }
  const doomed = markBackupGroup(group, r)
    .filter((e) => e.mark === "remove")
    .map((e) => e.volid)
    .sort();
  for (const volid of doomed) {
    log.line(`INFO: removing backup '${volid}'`);
    storage.volumes.delete(volid);
  }
  const n = doomed.length;
  log.line(`INFO: pruned ${n} backup(s)${n > 0 ? " not covered by keep-retention policy" : ""}`);
}

/**
 * POST /nodes/{node}/vzdump: VM.Backup on each guest and Datastore.AllocateSpace on the target
 * storage (docs/proxmox-behaviour.md#vzdump-remove), Datastore.Allocate too when the call passes `prune-backups`;
 * a `vzdump` task whose id is the vmid for a single guest and empty otherwise (docs/proxmox-behaviour.md#upid-format). The
 * archive appears in the storage content when the task ends. `remove` defaults to 1 and prunes
 * by the effective retention; with `remove=0` a guest already at the retention's limit is
 * refused before anything is written (docs/proxmox-behaviour.md#vzdump-remove).
 */
export function vzdump(ctx: RequestContext): string {
  const { core } = ctx;
  const storageId = strParam(ctx, "storage") ?? "local";
  const vmids = boolParam(ctx, "all")
    ? [...core.state.guests.keys()]
    : splitList(ctx.params.vmid).map((v) => Number.parseInt(v, 10));
  if (vmids.length === 0) throw fail("No VMID specified, use --all or --vmid");
  for (const vmid of vmids) core.access.check(ctx.who, `/vms/${vmid}`, ["VM.Backup"]);
  const pruneParam = strParam(ctx, "prune-backups");
  if (pruneParam !== undefined) {
    core.access.check(ctx.who, `/storage/${storageId}`, ["Datastore.Allocate"]);
  }
  core.access.check(ctx.who, `/storage/${storageId}`, ["Datastore.AllocateSpace"]);
  const storage = core.state.storages.get(storageId);
  if (storage === undefined) throw fail(`storage '${storageId}' does not exist`);
  if (!storage.content.includes("backup")) {
    throw fail(`storage '${storageId}' does not support backups`);
  }
  const compress = strParam(ctx, "compress") ?? "0";
  const ext = EXT[compress] ?? "tar";
  const notesTemplate = strParam(ctx, "notes-template");
  const isProtected = boolParam(ctx, "protected");
  const mode = strParam(ctx, "mode") ?? "snapshot";
  const retention = effectiveRetention(pruneParam, storage);
  // The schema default of `remove` is 1; keep-all turns it off (VZDump.pm `new`).
  const remove =
    !retention.keepAll && (ctx.params.remove === undefined || boolParam(ctx, "remove"));
  const limit = backupLimit(retention);
  const maxProtected =
    storage.maxProtectedBackups ??
    (core.access.has(ctx.who, `/storage/${storageId}`, "Datastore.Allocate") ? -1 : 5);
  /** The up-front refusal of exec_backup_task, or undefined when the backup may start. */
  const refusal = (vmid: number): string | undefined => {
    if (!isProtected && (limit === 0 || remove)) return undefined;
    const mine = backupsOf(storage, vmid);
    const count = mine.filter((v) => !v.protected).length;
    if (isProtected) {
      return maxProtected > -1 && mine.length - count >= maxProtected
        ? `The number of protected backups per guest is limited to ${maxProtected} on storage '${storageId}'`
        : undefined;
    }
    return count >= limit
      ? `There is a max backup limit of ${limit} enforced by the target storage or the vzdump parameters. Either increase the limit or delete old backups.`
      : undefined;
  };
  return core.tasks.spawn({
    type: "vzdump",
    id: vmids.length === 1 ? String(vmids[0]) : "",
    principal: ctx.who,
    work: (log) => {
      const jobs: CtGuest[] = [];
      let errors = 0;
      for (const vmid of vmids) {
        const g = core.state.guests.get(vmid);
        if (g === undefined) {
          log.line(`ERROR: Backup of VM ${vmid} failed - unable to find VM '${vmid}'`);
          errors++;
          continue;
        }
        const refused = refusal(vmid);
        if (refused !== undefined) {
          log.line(`ERROR: Backup of VM ${vmid} failed - ${refused}`);
          log.line(`INFO: Failed at ${timeText(core.clock.now())}`);
          errors++;
          continue;
        }
        const locked = lockMessage(g);
        if (locked !== undefined) {
          log.line(`ERROR: Backup of VM ${vmid} failed - ${locked}`);
          errors++;
          continue;
        }
        log.line(`INFO: Starting Backup of VM ${vmid} (lxc)`);
        // Its run state as vzdump found it (docs/proxmox-behaviour.md#vzdump-status-line).
        log.line(`INFO: status = ${g.running ? "running" : "stopped"}`);
        if (mode === "snapshot" && !canSnapshot(core.state.storages, g)) {
          // Snapshot mode needs every volume on a storage that can snapshot; otherwise vzdump
          // goes on in suspend mode by itself (docs/proxmox-behaviour.md#vzdump-modes-and-failures).
          log.line("INFO: mode failure - some volumes do not support snapshots");
          log.line("INFO: trying 'suspend' mode instead");
          log.line("INFO: backup mode: suspend");
        } else {
          log.line(`INFO: backup mode: ${mode}`);
        }
        g.config.lock = "backup";
        jobs.push(g);
      }
      core.state.touch();
      if (jobs.length === 0) throw new Error("job errors");
      return {
        complete: (done) => {
          const now = core.clock.now();
          for (const g of jobs) {
            delete g.config.lock;
            const file = `vzdump-lxc-${g.vmid}-${stamp(now)}.${ext}`;
            const size = 200_000_000 + (g.vmid % 97) * 1_000_000;
            if (storage.total - core.state.used(storage) < size) {
              // The archive pipeline dies when the target fills up; the guest fails, the
              // job goes on with the next and ends `job errors` (docs/proxmox-behaviour.md#vzdump-modes-and-failures).
              done.line(
                "INFO: zstd: error 70 : Write error : cannot write block : No space left on device",
              );
              done.line(
                `ERROR: Backup of VM ${g.vmid} failed - command 'tar cpf - … | zstd' failed: exit code 70`,
              );
              done.line(`INFO: Failed at ${timeText(now)}`);
              errors++;
              continue;
            }
            const volid = `${storageId}:backup/${file}`;
            const config = copyConfig(g.config);
            const hostname =
              typeof g.config.hostname === "string" ? g.config.hostname : `CT${g.vmid}`;
            storage.volumes.set(volid, {
              volid,
              content: "backup",
              format: ext,
              size,
              ctime: Math.floor(now / 1000),
              vmid: g.vmid,
              ...(notesTemplate === undefined
                ? {}
                : {
                    notes: notesTemplate
                      .replaceAll("{{guestname}}", hostname)
                      .replaceAll("{{vmid}}", String(g.vmid))
                      .replaceAll("{{node}}", core.node)
                      .replaceAll("{{cluster}}", core.node),
                  }),
              ...(isProtected ? { protected: true } : {}),
              config,
            });
            done.line(`INFO: creating vzdump archive '${storage.path ?? ""}/dump/${file}'`);
            // Pruning runs only after this guest's archive was written (VZDump.pm).
            if (remove) pruneGroup(storage, g.vmid, retention, done);
            done.line(`INFO: Finished Backup of VM ${g.vmid}`);
          }
          core.state.touch();
          if (errors > 0) throw new Error("job errors");
          done.line("INFO: Backup job finished successfully");
        },
      };
    },
  }).upid;
}
