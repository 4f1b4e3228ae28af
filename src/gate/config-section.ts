import { z } from "zod";
import { hostIdSchema } from "../authz/host-id.ts";
import { type Signer, signersSchema, toSigners } from "../authz/signers.ts";
import { DEFAULT_MAX_TTL_SECONDS, DEFAULT_SKEW_SECONDS } from "../authz/verify.ts";
import { defineSection } from "../config/section.ts";
import { DEFAULT_MAX_GROW_GIB, DEFAULT_PROVISION_BRIDGES } from "./classify.ts";

/**
 * `host_id`: the id signed envelopes must name (docs/architecture.md#signed-operations). Enrollment records the hub's
 * host id; setting it here by hand lets an operator sign for a host that is not enrolled yet.
 * Absent = none yet: every signed operation is then refused as `wrong_host`.
 */
export const hostIdSection = defineSection({
  key: "host_id",
  schema: hostIdSchema.optional(),
  env: [{ path: ["host_id"], kind: "string" }],
  resolve: (raw: string | undefined): string | undefined => raw,
  redact: (c: string | undefined) => c,
  secrets: () => [],
});

/**
 * `signers`: the operators whose signatures can approve destructive operations:
 *   [{"name": "alice", "key": "ssh-ed25519 AAAA… comment", "role": "operational",
 *     "expires": "2027-06-01T00:00:00Z"}]
 * File only: public keys are not secrets, and a list does not fit one env variable. Empty (the
 * default) means no destructive operation can be approved; they wait as pending_signature.
 */
export const signersSection = defineSection({
  key: "signers",
  schema: signersSchema.default([]),
  env: [],
  resolve: (raw: z.output<typeof signersSchema>): Signer[] => toSigners(raw),
  // The file form again: name, key line (public), role, expiry.
  redact: (c: Signer[]) =>
    c.map((s) => ({
      name: s.name,
      key_id: s.keyId,
      role: s.role,
      ...(s.expiresAt === undefined ? {} : { expires: new Date(s.expiresAt).toISOString() }),
    })),
  secrets: () => [],
});

export interface GateConfig {
  /** Allowance for clocks that disagree (envelope iat/exp). */
  skew_s: number;
  /** Longest envelope lifetime (exp − iat) accepted. */
  max_ttl_s: number;
  /** A held operation nobody signed within this many seconds expires. */
  pending_ttl_s: number;
  /** One unsigned disk grow adds at most this many GiB, for guests without max_disk_gib. */
  max_grow_gib: number;
  /** Bridges a new guest from a golden image may join without a signature. */
  provision_bridges: string[];
}

const gateSchema = z
  .strictObject({
    skew_s: z.number().int().min(0).max(600).default(DEFAULT_SKEW_SECONDS),
    max_ttl_s: z.number().int().min(30).max(86_400).default(DEFAULT_MAX_TTL_SECONDS),
    pending_ttl_s: z
      .number()
      .int()
      .min(60)
      .max(90 * 86_400)
      .default(7 * 86_400),
    max_grow_gib: z.number().int().min(0).max(65_536).default(DEFAULT_MAX_GROW_GIB),
    provision_bridges: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/, "not a bridge name"))
      .max(64)
      .default([...DEFAULT_PROVISION_BRIDGES]),
  })
  .prefault({});

/** `gate`: tuning of the signature check; the defaults suit hosts with NTP. */
export const gateSection = defineSection({
  key: "gate",
  schema: gateSchema,
  env: [
    { path: ["gate", "skew_s"], kind: "int" },
    { path: ["gate", "max_ttl_s"], kind: "int" },
    { path: ["gate", "pending_ttl_s"], kind: "int" },
    { path: ["gate", "max_grow_gib"], kind: "int" },
  ],
  resolve: (raw: z.output<typeof gateSchema>): GateConfig => ({
    ...raw,
    provision_bridges: [...raw.provision_bridges],
  }),
  redact: (c: GateConfig) => ({ ...c, provision_bridges: [...c.provision_bridges] }),
  secrets: () => [],
});

/** The three top-level keys the gate reads, in the order they belong in src/daemon/agent-config.ts. */
export const gateSections = [hostIdSection, signersSection, gateSection] as const;
