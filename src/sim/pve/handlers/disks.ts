import type { RequestContext } from "../context.ts";
import { strParam } from "../context.ts";
import { fail } from "../errors.ts";

/** `GET /nodes/{node}/disks/list` (docs/proxmox-behaviour.md#disk-inventory), sorted by name. */
export function listDisks(ctx: RequestContext): unknown {
  const hw = ctx.core.hostFs.hardware;
  return [...hw.disks]
    .sort((a, b) => a.devpath.localeCompare(b.devpath))
    .map((d) => hw.listEntry(d));
}

/**
 * `GET /nodes/{node}/disks/smart`: the node's short verdict only. Any smartctl problem is
 * swallowed into `UNKNOWN`, as Proxmox does (docs/proxmox-behaviour.md#disk-inventory).
 */
export function diskSmart(ctx: RequestContext): unknown {
  const disk = strParam(ctx, "disk") ?? "";
  const d = ctx.core.hostFs.hardware.disk(disk);
  if (!d) throw fail(`${disk}: not a valid block device`);
  if (d.kind === "usb") return { health: "UNKNOWN" };
  return { health: d.passed ? "PASSED" : "FAILED!", type: d.kind === "nvme" ? "text" : "ata" };
}
