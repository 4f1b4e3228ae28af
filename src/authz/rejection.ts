/**
 * Why a signed operation was refused (docs/architecture.md#signed-operations). The gate reports these as
 * `rejected:<reason>`; the audit log records them.
 */
export const REJECTION_REASONS = [
  "malformed",
  "bad_signature",
  "unknown_signer",
  "signer_expired",
  "expired",
  "not_yet_valid",
  "replay",
  "wrong_host",
  "binding_mismatch",
  "role_denied",
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

/**
 * A refused envelope. Returned as a value by the verifier (never thrown for bad input), and an
 * Error so callers that prefer to throw it can. `detail` names the failing field and never
 * contains key material.
 */
export class SignatureRejection extends Error {
  override readonly name = "SignatureRejection";
  constructor(
    readonly reason: RejectionReason,
    readonly detail: string,
  ) {
    super(`signed operation rejected (${reason}): ${detail}`);
  }

  toJSON(): { reason: RejectionReason; detail: string } {
    return { reason: this.reason, detail: this.detail };
  }
}
