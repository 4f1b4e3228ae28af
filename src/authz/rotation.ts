import type { SignerRole } from "./roles.ts";
import type { Signer } from "./signers.ts";
import { parseSshPublicKey } from "./ssh-public-key.ts";

/** One entry of a proposed enrolled signer set, as a `signers.rotate` carries it. */
export interface ProposedSigner {
  key: string;
  role: SignerRole;
}

export interface RotationFacts {
  /** The role of the key that signed the rotation. */
  signerRole: SignerRole;
  /** Every signer the gate accepts today: the configured ones and the enrolled set. */
  inForce: readonly Signer[];
  /** The configured signers: a floor the rotation cannot remove. */
  configured: readonly Signer[];
  /** The proposed enrolled set. */
  next: readonly ProposedSigner[];
  /** ms since the epoch; an expired recovery key counts as gone already. */
  now: number;
}

const usable = (s: Signer, now: number) => s.expiresAt === undefined || now < s.expiresAt;

/**
 * Why a verified `signers.rotate` may not take effect, or undefined when it may
 * (docs/architecture.md#operator-key-rotation):
 * - a rotation that would leave no signer at all in force is refused: the host could never
 *   approve anything again, a rotation included;
 * - an `operational` key must keep at least one of the recovery keys in force today, and may
 *   not add or promote a recovery key while one is in force. The recovery key is there for the
 *   day an operational key is lost or stolen; if that key could swap every recovery key for one
 *   of its own, or slip one of its own in beside them and then rotate with it, recovery would
 *   belong to whoever stole it.
 * A `recovery` key may replace the whole enrolled set, recovery keys included. Configured
 * signers stay in force whatever the set says, so they always count as kept.
 */
export function rotationRefusal(f: RotationFacts): string | undefined {
  const nextIds = new Map<string, SignerRole>();
  for (const s of f.next) nextIds.set(parseSshPublicKey(s.key).fingerprint, s.role);
  const floorIds = new Set(f.configured.map((s) => s.keyId));
  if (floorIds.size === 0 && nextIds.size === 0) {
    return "the rotation would leave no signer in force, and nothing could be approved again";
  }
  if (f.signerRole !== "operational") return undefined;
  const recoveryNow = f.inForce.filter((s) => s.role === "recovery" && usable(s, f.now));
  if (recoveryNow.length === 0) return undefined;
  const recoveryIds = new Set(recoveryNow.map((s) => s.keyId));
  const added = [...nextIds].filter(([id, role]) => role === "recovery" && !recoveryIds.has(id));
  if (added.length > 0) {
    return `an operational key may not add or promote a recovery key (${added
      .map(([id]) => id)
      .join(
        ", ",
      )}) while ${[...recoveryIds].join(", ")} is in force; have a recovery key sign the rotation`;
  }
  const kept = recoveryNow.some(
    (s) => floorIds.has(s.keyId) || nextIds.get(s.keyId) === "recovery",
  );
  if (kept) return undefined;
  return `an operational key may not remove the last recovery key in force; keep at least one of ${recoveryNow
    .map((s) => s.keyId)
    .join(", ")} as recovery, or have a recovery key sign the rotation`;
}
