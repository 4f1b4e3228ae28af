import type { z } from "zod";
import type { OpName } from "../ops/types.ts";
import {
  acceptedSchema,
  backupBody,
  createSnapshotBody,
  operationSchema,
  resourcesBody,
  selfSchema,
  snapshotListSchema,
  storageSchema,
} from "./schemas.ts";

export type RouteMethod = "GET" | "POST" | "DELETE";

/**
 * Every guest route in one table: the app registers from it and the OpenAPI document is made
 * from it, so neither can miss a route.
 */
export interface RouteSpec {
  id: string;
  method: RouteMethod;
  /** Hono form, `:name` for parameters. */
  path: string;
  summary: string;
  /** The operation a mutating route submits (audited); absent for reads. */
  op?: OpName;
  body?: z.ZodType;
  /** 200 for reads, 202 for accepted mutations. */
  success: 200 | 202;
  response: z.ZodType;
  /** The statuses this route can answer besides the common ones. */
  errors: number[];
}

export const GUEST_ROUTES = [
  {
    id: "getSelf",
    method: "GET",
    path: "/v1/self",
    summary: "Status of the caller's guest: run state, cores, memory, disk use, uptime, quota",
    success: 200,
    response: selfSchema,
    errors: [502],
  },
  {
    id: "getStorage",
    method: "GET",
    path: "/v1/self/storage",
    summary: "Root disk and mount points with use and class; backup targets and last backups",
    success: 200,
    response: storageSchema,
    errors: [502],
  },
  {
    id: "listSnapshots",
    method: "GET",
    path: "/v1/self/snapshots",
    summary: "Snapshots of the caller's guest",
    success: 200,
    response: snapshotListSchema,
    errors: [502],
  },
  {
    id: "createSnapshot",
    method: "POST",
    path: "/v1/self/snapshots",
    summary: "Take a snapshot now, named ctl-<label>",
    op: "guest.snapshot",
    body: createSnapshotBody,
    success: 202,
    response: acceptedSchema,
    errors: [409, 413, 415, 422],
  },
  {
    id: "rollbackSnapshot",
    method: "POST",
    path: "/v1/self/snapshots/:name/rollback",
    summary:
      "Roll back to a snapshot; one this API took is benign, any other is held (403 pending_signature)",
    op: "guest.rollback",
    success: 202,
    response: acceptedSchema,
    errors: [403, 404, 422],
  },
  {
    id: "deleteSnapshot",
    method: "DELETE",
    path: "/v1/self/snapshots/:name",
    summary: "Delete a snapshot; one this API took is benign, any other is held",
    op: "guest.snapshot.delete",
    success: 202,
    response: acceptedSchema,
    errors: [403, 404, 422],
  },
  {
    id: "growResources",
    method: "POST",
    path: "/v1/self/resources",
    summary: "Grow cores and/or memory, upward only and within the guest's quota",
    op: "guest.config",
    body: resourcesBody,
    success: 202,
    response: acceptedSchema,
    errors: [403, 413, 415, 422],
  },
  {
    id: "runBackup",
    method: "POST",
    path: "/v1/self/backups",
    summary: "Back the guest up now to its configured tier",
    op: "guest.backup",
    body: backupBody,
    success: 202,
    response: acceptedSchema,
    errors: [403, 413, 415, 422],
  },
  {
    id: "getOperation",
    method: "GET",
    path: "/v1/self/operations/:id",
    summary: "State of an accepted request: queued, running, done, failed (with the reason)",
    success: 200,
    response: operationSchema,
    errors: [404, 422],
  },
] as const satisfies readonly RouteSpec[];

export type GuestRouteId = (typeof GUEST_ROUTES)[number]["id"];
