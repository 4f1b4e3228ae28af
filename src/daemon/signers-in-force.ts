import type { Signer } from "../authz/signers.ts";
import { effectiveSigners } from "../hub/trust.ts";
import type { Logger } from "../log/types.ts";
import type { EnrolledSigners } from "../store/enrolled-signers.ts";

/**
 * The signers the gate verifies against, read from the store at each verification so a
 * `signers.rotate` holds from the next envelope on (docs/architecture.md#operator-key-rotation).
 * The list is rebuilt only when the enrolled set changed, so a busy gate does not parse every
 * key again and again, and an unusable row is logged once, not per envelope.
 */
export function signersInForce(
  configured: readonly Signer[],
  enrolled: Pick<EnrolledSigners, "list">,
  logger: Logger,
): () => readonly Signer[] {
  let seen: string | undefined;
  let current: readonly Signer[] = configured;
  return () => {
    const rows = enrolled.list();
    const key = JSON.stringify(rows.map((r) => [r.fingerprint, r.name, r.role, r.expiresAt]));
    if (key !== seen) {
      current = effectiveSigners(configured, rows, logger);
      seen = key;
    }
    return current;
  };
}
