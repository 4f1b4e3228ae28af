import { z } from "zod";
import { snapshotName } from "./common.ts";

export const guestSnapshotParams = z.strictObject({
  name: snapshotName,
  description: z.string().max(8192).optional(),
});

export const guestRollbackParams = z.strictObject({ name: snapshotName });

export const guestSnapshotDeleteParams = z.strictObject({
  name: snapshotName,
  /** Removes a snapshot stuck half-deleted (snapstate `delete`, docs/proxmox-behaviour.md#snapshots-and-descriptions). */
  force: z.boolean().optional(),
});

export type GuestSnapshotParams = z.output<typeof guestSnapshotParams>;
export type GuestRollbackParams = z.output<typeof guestRollbackParams>;
export type GuestSnapshotDeleteParams = z.output<typeof guestSnapshotDeleteParams>;
