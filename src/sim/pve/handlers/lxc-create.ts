import type { RequestContext } from "../context.ts";
import { boolParam, intParam, strParam } from "../context.ts";
import {
  type CtConfig,
  configValue,
  formatDiskSize,
  formatPropertyString,
  parseDiskSize,
  parsePropertyString,
  volumeSize,
} from "../ct-config.ts";
import { storedDescription } from "../description.ts";
import { fail } from "../errors.ts";
import { randomMac } from "../random.ts";
import { flockTimeoutMessage } from "../tasks.ts";
import { checkCtModifyPerm, NON_CONFIG } from "./common.ts";
import { markStarted } from "./lxc-power.ts";

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
]);

const GiB = 1024 ** 3;

/**
 * POST /nodes/{node}/lxc: create from a template, or restore from a vzdump archive.
 * The permission checks, `already exists` and the locked config are synchronous; extraction is
 * the `vzcreate`/`vzrestore` task (FACTS B.5). On restore the archive's config is the base and
 * explicit parameters win; `features` from the archive are kept without a permission check, but
 * passed ones are checked (FACTS-provisioning 1.1, 2). `unique` renews only the MACs.
 */
export function createCt(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const restore = boolParam(ctx, "restore");
  const force = boolParam(ctx, "force");
  const storageId = strParam(ctx, "storage") ?? "local";
  const ostemplate = strParam(ctx, "ostemplate") ?? "";
  const existing = core.state.guests.get(vmid);

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
  checkCtModifyPerm(ctx, vmid, params, [], {}, params.unprivileged !== 0);

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

  const config: CtConfig = restore
    ? { ...(archive.volume.config ?? {}) }
    : { arch: "amd64", ostype: "debian", memory: 512, swap: 512, unprivileged: 0 };
  delete config.lock;
  delete config.parent;
  for (const [k, v] of Object.entries(params)) {
    if (k === "description") {
      const d = storedDescription(String(v));
      if (d === undefined) delete config[k];
      else config[k] = d;
    } else {
      config[k] = configValue(k, v);
    }
  }
  const unique = boolParam(ctx, "unique");
  for (const key of Object.keys(config)) {
    if (!/^net\d+$/.test(key)) continue;
    const props = parsePropertyString(String(config[key]));
    // Explicit netN without hwaddr gets a random MAC too (FACTS-provisioning 2).
    if (unique || !props.has("hwaddr")) props.set("hwaddr", randomMac(core.rng));
    config[key] = formatPropertyString(props);
  }
  const requested = typeof params.rootfs === "string" ? params.rootfs : undefined;
  let sizeBytes = restore ? volumeSize(config.rootfs) : 4 * GiB;
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
  config.lock = "create";

  const previous = existing;
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
  return core.tasks.spawn({
    type: restore ? "vzrestore" : "vzcreate",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    onFailure: () => {
      // A failed create removes what it made (a failed restore over a CT leaves it gone too).
      const g = core.state.guests.get(vmid);
      if (g?.config.lock === "create") core.state.guests.delete(vmid);
      if (previous !== undefined && g === undefined) core.state.guests.delete(vmid);
      core.state.touch();
    },
    work: (log) => {
      log.line(
        restore
          ? `restoring '${ostemplate}' now..`
          : `extracting archive '${archive.storage.path ?? ""}/template/cache/${ostemplate.split("/").pop()}'`,
      );
      return {
        complete: () => {
          const g = core.state.guests.get(vmid);
          if (g === undefined)
            throw new Error(`CT ${vmid} was removed during ${restore ? "restore" : "create"}`);
          target.volumes.set(volid, {
            volid,
            content: "rootdir",
            format: "raw",
            size: sizeBytes,
            ctime: Math.floor(core.clock.now() / 1000),
            vmid,
          });
          delete g.config.lock;
          if (startAfter) markStarted(core, g);
          core.state.touch();
        },
      };
    },
  }).upid;
}
