import type { RequestContext } from "../context.ts";
import { boolParam, intParam, strParam } from "../context.ts";
import {
  formatDiskSize,
  formatPropertyString,
  parseDiskSize,
  parsePropertyString,
} from "../ct-config.ts";
import { fail } from "../errors.ts";
import { assertUnlocked, lockMessage, requireGuest, withFlock } from "./common.ts";
import { markStopped } from "./lxc-power.ts";

/**
 * PUT …/resize: lock and size checks are synchronous, the resize itself is a `resize` task
 * (docs/proxmox-behaviour.md#locks). Grow only.
 */
export async function resize(ctx: RequestContext): Promise<string> {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  const disk = strParam(ctx, "disk") ?? "";
  const sizeText = strParam(ctx, "size") ?? "";
  await withFlock(ctx, vmid);
  const digest = strParam(ctx, "digest");
  if (digest !== undefined && digest !== core.state.digest(g)) {
    throw fail("detected modified configuration - file changed by other user? Try again.");
  }
  assertUnlocked(g);
  const value = g.config[disk];
  if (typeof value !== "string") throw fail(`disk '${disk}' does not exist`);
  const props = parsePropertyString(value, "volume");
  const current = parseDiskSize(props.get("size") ?? "") ?? 0;
  const grow = sizeText.startsWith("+");
  const amount = parseDiskSize(grow ? sizeText.slice(1) : sizeText);
  if (amount === null) throw fail(`invalid size '${sizeText}'`);
  const target = grow ? current + amount : amount;
  if (target < current) throw fail("unable to shrink disk size");
  if (target === current) throw fail("disk is already at specified size");
  return core.tasks.spawn({
    type: "resize",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: (log) => {
      log.line(`Resizing image '${props.get("volume")}' to ${formatDiskSize(target)}`);
      return {
        complete: () => {
          const now = g.config[disk];
          if (typeof now !== "string") throw new Error(`disk '${disk}' does not exist`);
          const p = parsePropertyString(now, "volume");
          p.set("size", formatDiskSize(target));
          g.config[disk] = formatPropertyString(p, "volume");
          const vol = core.state.findVolume(p.get("volume") ?? "");
          if (vol !== undefined) vol.volume.size = target;
          core.state.touch();
        },
      };
    },
  }).upid;
}

/**
 * DELETE …/lxc/{vmid}: protection, lock and running checks are synchronous; the destroy runs in
 * a `vzdestroy` task (docs/proxmox-behaviour.md#locks).
 */
export function destroy(ctx: RequestContext): string {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  if (g.config.protection === 1) {
    throw fail(`can't remove CT ${vmid} - protection mode enabled`);
  }
  assertUnlocked(g);
  const force = boolParam(ctx, "force");
  if (g.running && !force) throw fail(`unable to destroy CT ${vmid} - container is running`);
  return core.tasks.spawn({
    type: "vzdestroy",
    id: String(vmid),
    principal: ctx.who,
    flockVmid: vmid,
    work: (log) => {
      const locked = lockMessage(g);
      if (locked !== undefined) throw new Error(locked);
      if (g.running) {
        log.line("stopping container");
        markStopped(g);
      }
      g.config.lock = "destroyed";
      core.state.touch();
      return {
        complete: () => {
          core.state.guests.delete(vmid);
          for (const s of core.state.storages.values()) {
            for (const [volid, v] of s.volumes) {
              if (v.vmid === vmid && (v.content === "rootdir" || v.content === "images")) {
                log.line(
                  `Logical volume "${volid.slice(volid.indexOf(":") + 1)}" successfully removed.`,
                );
                s.volumes.delete(volid);
              }
            }
          }
          core.state.touch();
        },
      };
    },
  }).upid;
}
