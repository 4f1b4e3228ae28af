import type { RequestContext } from "../context.ts";
import { boolParam, intParam, strParam } from "../context.ts";
import {
  type CtConfig,
  configValue,
  formatDiskSize,
  formatPropertyString,
  parseDiskSize,
  parsePropertyString,
} from "../ct-config.ts";
import { storedDescription } from "../description.ts";
import { fail, PveHttpError, TaskFailure } from "../errors.ts";
import { randomMac } from "../random.ts";
import { flockTimeoutMessage } from "../tasks.ts";
import { checkCtModifyPerm, NON_CONFIG } from "./common.ts";
import { markStarted } from "./lxc-power.ts";
import {
  archiveMountpoints,
  mergeRestoreConfig,
  type RecreatedVolume,
  restoredUnprivileged,
} from "./lxc-restore.ts";

/** Create/restore parameters that are not CT config keys. */
const CREATE_ONLY = new Set([
  "ostemplate",
  "storage",
  "restore",
  "force",
  "unique",
  "start",
  "pool",
  "password",
  "ssh-public-keys",
  "ignore-unpack-errors",
  "bwlimit",
  "ha-managed",
  // Read-only after creation; taken out before the permission checks (API2/LXC.pm create_vm).
  "unprivileged",
]);

const GiB = 1024 ** 3;

/**
 * POST /nodes/{node}/lxc: create from a template, or restore from a vzdump archive.
 * The permission checks, `already exists` and the locked config are synchronous; extraction is
 * the `vzcreate`/`vzrestore` task (docs/proxmox-behaviour.md#locks). A new CT is unprivileged unless told otherwise,
 * and a privileged one needs Sys.Modify on `/`. On restore the archive's config fills what the
 * parameters leave open, `unprivileged` and `features` included (features kept without a
 * permission check, passed ones checked); a privileged result needs Sys.Modify, and a bind or
 * device mount point in the archive is root@pam's (docs/proxmox-behaviour.md#lxc-restore-from-archive).
 * `unique` renews only the MACs.
 */
export function createCt(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const restore = boolParam(ctx, "restore");
  const force = boolParam(ctx, "force");
  const storageId = strParam(ctx, "storage") ?? "local";
  const ostemplate = strParam(ctx, "ostemplate") ?? "";
  const existing = core.state.guests.get(vmid);
  const unprivilegedParam = ctx.params.unprivileged;
  const unprivilegedGiven = unprivilegedParam !== undefined && unprivilegedParam !== null;
  const unprivilegedSet = unprivilegedGiven && boolParam(ctx, "unprivileged");
  const createUnprivileged = !unprivilegedGiven || unprivilegedSet;
  if (!restore && !createUnprivileged) core.access.check(ctx.who, "/", ["Sys.Modify"]);

  if (restore && force && existing !== undefined) {
    core.access.check(ctx.who, `/vms/${vmid}`, ["VM.Backup"]);
  } else {
    core.access.check(ctx.who, `/vms/${vmid}`, ["VM.Allocate"]);
  }
  core.access.check(ctx.who, `/storage/${storageId}`, ["Datastore.AllocateSpace"]);
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx.params)) {
    if (!NON_CONFIG.has(k) && !CREATE_ONLY.has(k)) params[k] = v;
  }
  // On restore an unset `unprivileged` reaches the check as false: passing `features` then
  // needs root@pam even for an unprivileged archive (API2/LXC.pm create_vm).
  checkCtModifyPerm(ctx, vmid, params, [], {}, restore ? unprivilegedSet : createUnprivileged);

  if (existing !== undefined && !(restore && force)) {
    throw fail(`CT ${vmid} already exists on node '${core.node}'`);
  }
  if (core.faults().lockWait.includes(vmid)) {
    throw fail(`unable to create CT ${vmid} - ${flockTimeoutMessage(vmid)}`);
  }
  const archive = core.state.findVolume(ostemplate);
  if (archive === undefined) throw fail(`volume '${ostemplate}' does not exist`);
  core.access.check(ctx.who, `/storage/${archive.storage.storage}`, ["Datastore.AllocateSpace"]);
  const target = core.state.storages.get(storageId);
  if (target === undefined) throw fail(`storage '${storageId}' does not exist`);
  if (!target.content.includes("rootdir")) {
    throw fail(`storage '${storageId}' does not support container directories`);
  }
  if (restore && archive.volume.content !== "backup") {
    throw fail(`unable to restore CT ${vmid} - '${ostemplate}' is not a backup archive`);
  }

  const explicit: CtConfig = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === "description") {
      const d = storedDescription(String(v));
      if (d !== undefined) explicit[k] = d;
    } else {
      explicit[k] = configValue(k, v);
    }
  }
  const archiveConfig: CtConfig = restore ? { ...(archive.volume.config ?? {}) } : {};
  const unprivileged = restore
    ? restoredUnprivileged(unprivilegedParam, archiveConfig)
    : createUnprivileged;
  const mergeNotes: string[] = [];
  const config: CtConfig = restore
    ? mergeRestoreConfig(explicit, archiveConfig, unprivileged, (t) => mergeNotes.push(t))
    : {
        arch: "amd64",
        ostype: "debian",
        memory: 512,
        swap: 512,
        ...explicit,
        ...(unprivileged ? { unprivileged: 1 } : {}),
      };
  const unique = boolParam(ctx, "unique");
  for (const key of Object.keys(config)) {
    if (!/^net\d+$/.test(key)) continue;
    const props = parsePropertyString(String(config[key]));
    // Explicit netN without hwaddr gets a random MAC too (docs/proxmox-behaviour.md#identity-on-restore).
    if (unique || !props.has("hwaddr")) props.set("hwaddr", randomMac(core.rng));
    config[key] = formatPropertyString(props);
  }
  const requested = typeof params.rootfs === "string" ? params.rootfs : undefined;
  // Storage-only restore recreates the archive's volumes; a passed rootfs ignores them all.
  const recovered =
    restore && requested === undefined ? archiveMountpoints(archiveConfig) : undefined;
  const volumes: RecreatedVolume[] =
    recovered === undefined || "error" in recovered ? [] : recovered;
  let sizeBytes = volumes.find((v) => v.key === "rootfs")?.sizeBytes ?? 4 * GiB;
  if (requested !== undefined) {
    const vol = parsePropertyString(requested, "volume").get("volume") ?? "";
    const m = /^[^:]+:(\d+(?:\.\d+)?)$/.exec(vol);
    if (m) sizeBytes = Math.round(Number(m[1]) * GiB);
    else
      sizeBytes =
        parseDiskSize(parsePropertyString(requested, "volume").get("size") ?? "") ?? sizeBytes;
  }
  const volid = `${storageId}:vm-${vmid}-disk-0`;
  config.rootfs = `${volid},size=${formatDiskSize(sizeBytes)}`;
  const extraVolumes = volumes
    .filter((v) => v.key !== "rootfs")
    .map((v, i) => {
      const mpVolid = `${storageId}:vm-${vmid}-disk-${i + 1}`;
      const props = new Map([
        ["volume", mpVolid],
        ...v.props,
        ["size", formatDiskSize(v.sizeBytes)],
      ]);
      config[v.key] = formatPropertyString(props, "volume");
      return { volid: mpVolid, sizeBytes: v.sizeBytes };
    });
  config.lock = "create";

  const previous = existing;
  /** Until the worker passes its checks the old CT is untouched (only locked). */
  let untouched = true;
  core.state.guests.set(vmid, {
    vmid,
    running: false,
    config,
    pending: {},
    pendingDelete: new Set(),
    snapshots: new Map(),
  });
  core.state.touch();
  const startAfter = boolParam(ctx, "start");
  const emsg = `unable to ${restore ? "restore" : "create"} CT ${vmid} -`;
  return core.tasks.spawn({
    type: restore ? "vzrestore" : "vzcreate",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    onFailure: () => {
      if (untouched && previous !== undefined) {
        // Failed before anything was changed: the old CT stays, its create lock removed.
        core.state.guests.set(vmid, previous);
      } else {
        // A failed create removes what it made (a failed restore over a CT leaves it gone too).
        const g = core.state.guests.get(vmid);
        if (g?.config.lock === "create") core.state.guests.delete(vmid);
        if (previous !== undefined && g === undefined) core.state.guests.delete(vmid);
      }
      core.state.touch();
    },
    work: (log) => {
      if (restore) {
        log.line(`recovering backed-up configuration from '${ostemplate}'`);
        try {
          // A privileged result, new or changed, needs Sys.Modify on / (API2/LXC.pm create_vm).
          const wasUnprivileged = previous === undefined || previous.config.unprivileged === 1;
          if (wasUnprivileged && !unprivileged) core.access.check(ctx.who, "/", ["Sys.Modify"]);
        } catch (e) {
          throw new TaskFailure(`${emsg} ${e instanceof PveHttpError ? e.message : String(e)}`);
        }
        if (recovered !== undefined && "error" in recovered) {
          throw new TaskFailure(`${emsg} ${recovered.error}`);
        }
      }
      untouched = false;
      log.line(
        restore
          ? `restoring '${ostemplate}' now..`
          : `extracting archive '${archive.storage.path ?? ""}/template/cache/${ostemplate.split("/").pop()}'`,
      );
      return {
        complete: (done) => {
          const g = core.state.guests.get(vmid);
          if (g === undefined)
            throw new Error(`CT ${vmid} was removed during ${restore ? "restore" : "create"}`);
          const now = Math.floor(core.clock.now() / 1000);
          for (const v of [{ volid, sizeBytes }, ...extraVolumes]) {
            target.volumes.set(v.volid, {
              volid: v.volid,
              content: "rootdir",
              format: "raw",
              size: v.sizeBytes,
              ctime: now,
              vmid,
            });
          }
          if (restore) {
            done.line("merging backed-up and given configuration..");
            for (const note of mergeNotes) done.line(note);
          }
          delete g.config.lock;
          if (startAfter) markStarted(core, g);
          core.state.touch();
        },
      };
    },
  }).upid;
}
