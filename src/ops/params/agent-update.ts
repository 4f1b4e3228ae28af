import { z } from "zod";
import { VERSION_PATTERN } from "../../util/semver.ts";

/** The builds the release publishes (docs/bun-runtime.md#build): current CPUs, and without AVX2. */
export const UPDATE_TARGETS = ["x64", "x64-baseline"] as const;
export type UpdateTarget = (typeof UPDATE_TARGETS)[number];

/** A compiled agent is about 100 MiB; anything far above that is not one of ours. */
export const MAX_ARTIFACT_BYTES = 512 * 1024 * 1024;

/**
 * `agent.update`: the operator names the exact build to run (version, target, SHA-256 and
 * size of the artifact) and until when the instruction holds. The signature over these params
 * is what makes the artifact trusted, not the transport it arrives by (docs/self-update.md).
 */
export const agentUpdateParams = z.strictObject({
  version: z.string().regex(VERSION_PATTERN, "not a version (MAJOR.MINOR.PATCH[-pre])"),
  target: z.enum(UPDATE_TARGETS),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "not 64 lowercase hex digits"),
  size: z.number().int().min(1).max(MAX_ARTIFACT_BYTES),
  /** RFC 3339 instant after which the agent refuses to start this update. */
  expires: z.iso.datetime({ offset: true }),
  /** Without it, a version older than the running one is refused (anti-rollback). */
  allow_downgrade: z.boolean().optional(),
});

export type AgentUpdateParams = z.output<typeof agentUpdateParams>;
