import { z } from "zod";
import { lenientInt, lenientString } from "./lenient.ts";

/**
 * One physical disk of `GET /nodes/{node}/disks/list` (docs/proxmox-behaviour.md#disk-inventory).
 * Only whole disks are listed (no partitions, no dm/loop/zram); `type` is `usb` for most
 * USB-attached disks, SSDs included, which is what tells the health collector to ask smartctl
 * for SAT pass-through.
 */
export interface DiskEntry {
  devpath: string;
  /** `nvme`, `ssd`, `hdd`, `usb`, `unknown`. */
  type: string;
  /** `PASSED`, `FAILED!`, `OK`, `UNKNOWN`, `SMART Disabled`: the node's own short verdict. */
  health?: string;
  /** Percent of life left (100 = new); absent when Proxmox says `N/A`. */
  wearoutPct?: number;
  model?: string;
  serial?: string;
  sizeBytes?: number;
  used?: string;
  byIdLink?: string;
}

export const diskEntrySchema = z
  .object({
    devpath: z.string().regex(/^\/dev\//, "expected a /dev path"),
    type: z.string().optional(),
    health: z.string().optional(),
    // A number for SSD/NVMe, the string "N/A" otherwise.
    wearout: z.union([lenientInt, z.string()]).optional(),
    model: lenientString.optional(),
    serial: lenientString.optional(),
    size: lenientInt.optional(),
    used: z.string().optional(),
    by_id_link: z.string().optional(),
  })
  .loose()
  .transform(
    (d): DiskEntry => ({
      devpath: d.devpath,
      type: d.type ?? "unknown",
      ...(d.health !== undefined ? { health: d.health } : {}),
      ...(typeof d.wearout === "number" ? { wearoutPct: d.wearout } : {}),
      ...(d.model !== undefined ? { model: d.model } : {}),
      ...(d.serial !== undefined && d.serial !== "unknown" ? { serial: d.serial } : {}),
      ...(d.size !== undefined ? { sizeBytes: d.size } : {}),
      ...(d.used !== undefined ? { used: d.used } : {}),
      ...(d.by_id_link !== undefined ? { byIdLink: d.by_id_link } : {}),
    }),
  );
