import { z } from "zod";
import { configDigest } from "./common.ts";

/**
 * Growth only: PVE's size grammar `[+]N[KMGT]` with a mandatory leading `+`; an absolute size
 * could shrink (docs/proxmox-behaviour.md#endpoint-summary, docs/proxmox-behaviour.md#units).
 */
export const GROW_SIZE = /^\+\d{1,12}(\.\d{1,6})?[KMGT]?$/;

export const guestResizeParams = z.strictObject({
  disk: z.string().regex(/^(rootfs|mp\d{1,3})$/, "not a disk (rootfs, mp0…mp255)"),
  size: z.string().regex(GROW_SIZE, "not a growth ('+N[KMGT]')"),
  digest: configDigest.optional(),
});

export type GuestResizeParams = z.output<typeof guestResizeParams>;
