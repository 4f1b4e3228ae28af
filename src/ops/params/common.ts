import { z } from "zod";

/**
 * Pieces several operations' parameter shapes share. Each shape is strict: a key not listed
 * is refused by the executor and makes the operation unknown (so destructive) at the gate
 * (src/gate/README.md).
 */

// PVE `pve-configid`-style snapshot names; `current` and `vzdump` are reserved and refused
// synchronously (docs/proxmox-behaviour.md#locks).
export const snapshotName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{1,39}$/, "not a snapshot name")
  .refine((n) => n !== "current" && n !== "vzdump", "reserved snapshot name");

export const storageId = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, "not a storage id");

/** Refuse a change if the config changed since this digest was read. */
export const configDigest = z.string().regex(/^[0-9a-f]{1,64}$/, "not a config digest");

/**
 * CPU, memory, swap and the description, in the agent's units
 * (docs/proxmox-behaviour.md#units, docs/proxmox-behaviour.md#snapshots-and-descriptions).
 */
export const guestResources = {
  cores: z.number().int().min(1).max(8192).optional(),
  memoryMiB: z.number().int().min(16).optional(),
  swapMiB: z.number().int().min(0).optional(),
  /** `""` removes it: an empty description is not stored by PVE. */
  description: z.string().max(8192).optional(),
};
