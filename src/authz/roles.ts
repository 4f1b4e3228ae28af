import type { OpName } from "./operations.ts";

/**
 * `operational` keys sign ordinary destructive operations and planned key rotation;
 * `recovery` keys sign key rotation only (docs/architecture.md#signed-operations). A recovery key is kept offline for
 * the day an operational key is lost or compromised; letting it sign a destroy would make the
 * rarely-guarded key a second way to destroy customer data.
 */
export const SIGNER_ROLES = ["operational", "recovery"] as const;

export type SignerRole = (typeof SIGNER_ROLES)[number];

export function roleAllows(role: SignerRole, op: OpName): boolean {
  if (role === "recovery") return op === "signers.rotate";
  return true;
}
