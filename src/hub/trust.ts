import { type Signer, signerEntrySchema, toSigners } from "../authz/signers.ts";
import type { Logger } from "../log/types.ts";
import type { HubIdentity } from "./identity.ts";

/** One enrolled signer, as the store keeps it (or, before the import, as the identity file has it). */
export interface EnrolledSignerLike {
  name: string;
  publicKey: string;
  role: string;
  expiresAt?: string;
}

/** The signers of an identity file, in the form the store keeps. */
export function identitySigners(identity: HubIdentity | undefined): EnrolledSignerLike[] {
  return (identity?.signers ?? []).map((s) => ({
    name: s.name,
    publicKey: s.public_key,
    role: s.role,
    ...(s.expires_at === undefined ? {} : { expiresAt: s.expires_at }),
  }));
}

/**
 * Here, under the daemon, because the hub's trust summary reports the same list the daemon's
 * gate is built from (docs/architecture.md#layers).
 *
 * Who may approve destructive operations on this host: the `signers` of the config, then the
 * enrolled set (accepted at enrollment with the operator present, replaced since only by
 * signed `signers.rotate` operations: docs/architecture.md#operator-key-rotation). A key or
 * name already configured is not taken twice, so the config's role and expiry win: the
 * configured signers are a floor no rotation changes.
 */
export function effectiveSigners(
  configured: readonly Signer[],
  enrolled: readonly EnrolledSignerLike[],
  logger: Logger,
): Signer[] {
  const out = [...configured];
  for (const s of enrolled) {
    const entry = signerEntrySchema.safeParse({
      name: s.name,
      key: s.publicKey,
      role: s.role,
      ...(s.expiresAt !== undefined ? { expires: s.expiresAt } : {}),
    });
    if (!entry.success) {
      logger.warn("an enrolled signer is not usable; it is ignored", { signer: s.name });
      continue;
    }
    const [signer] = toSigners([entry.data]);
    if (signer === undefined) continue;
    if (out.some((o) => o.keyId === signer.keyId || o.name === signer.name)) continue;
    out.push(signer);
  }
  return out;
}

/** The host id envelopes must name: `host_id` from the config, else the enrolled one. */
export function effectiveHostId(
  configured: string | undefined,
  identity: HubIdentity | undefined,
  logger: Logger,
): string | undefined {
  if (configured !== undefined && identity !== undefined && configured !== identity.host_id) {
    logger.warn("host_id in the config differs from the enrolled host id; the config's is used", {
      host_id: configured,
      enrolled_host_id: identity.host_id,
    });
  }
  return configured ?? identity?.host_id;
}
