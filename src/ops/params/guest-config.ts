import { z } from "zod";
import { configDigest, guestResources } from "./common.ts";

/**
 * The keys `guest.config` may remove: the description, and `env`, which carries the one-time
 * bootstrap code and is removed once the controller has traded it
 * (docs/architecture.md#provisioning-constraints).
 */
/** `bc-` and 16 hex digits: the public handle of a bootstrap code (src/store/README.md#bootstrap-codes). */
export const BOOTSTRAP_ID_SHAPE = /^bc-[0-9a-f]{16}$/;

export const CONFIG_DELETE_KEYS = ["description", "env"] as const;

/** A synchronous config change of the hot-pluggable keys (docs/proxmox-behaviour.md#sync-and-async-endpoints). */
export const guestConfigParams = z
  .strictObject({
    ...guestResources,
    delete: z.array(z.enum(CONFIG_DELETE_KEYS)).min(1).max(8).optional(),
    /**
     * Writes `env=FELHOM_BOOTSTRAP=<code>` for the bootstrap code with this id. The params
     * (journaled, signed, reported) name the code, never carry it: the executor takes the
     * clear code from the agent's memory, where it lives only until this call is made
     * (docs/architecture.md#provisioning-constraints).
     */
    bootstrap: z.string().regex(BOOTSTRAP_ID_SHAPE, "not a bootstrap id (bc-<16 hex>)").optional(),
    digest: configDigest.optional(),
  })
  .refine(
    (p) => Object.keys(p).some((k) => k !== "digest"),
    "guest.config needs at least one change",
  )
  .refine(
    (p) => p.bootstrap === undefined || !(p.delete ?? []).includes("env"),
    "guest.config cannot both set and delete env",
  );

export type GuestConfigParams = z.output<typeof guestConfigParams>;
