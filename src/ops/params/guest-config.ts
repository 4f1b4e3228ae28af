import { z } from "zod";
import { configDigest, guestResources } from "./common.ts";

/**
 * The keys `guest.config` may remove: the description, and `env`, which carries the one-time
 * bootstrap code and is removed once the controller has traded it
 * (docs/architecture.md#provisioning-constraints).
 */
export const CONFIG_DELETE_KEYS = ["description", "env"] as const;

/** A synchronous config change of the hot-pluggable keys (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export const guestConfigParams = z
  .strictObject({
    ...guestResources,
    delete: z.array(z.enum(CONFIG_DELETE_KEYS)).min(1).max(8).optional(),
    digest: configDigest.optional(),
  })
  .refine(
    (p) => Object.keys(p).some((k) => k !== "digest"),
    "guest.config needs at least one change",
  );

export type GuestConfigParams = z.output<typeof guestConfigParams>;
