import type { AuditLog } from "./audit.ts";
import type { SignerSetChange } from "./enrolled-signers.ts";

/** The audit action of every change of the enrolled signer set. */
export const SIGNER_SET_AUDIT_ACTION = "signers.changed";

/**
 * One audit row per change of the enrolled set, with the fingerprints before and after, so the
 * customer and the hub (which receives every row) can see who could approve what, and since
 * when (src/store/README.md#enrolled-signers). Call inside the transaction of the change.
 */
export function auditSignerSetChange(
  audit: Pick<AuditLog, "append">,
  change: SignerSetChange,
  how: { by: "enrollment" | "rotation"; journalId?: number; enrollment?: string },
): void {
  const before = change.before.map((s) => `${s.fingerprint} ${s.role}`);
  const after = change.after.map((s) => `${s.fingerprint} ${s.role}`);
  const beforeIds = new Set(change.before.map((s) => s.fingerprint));
  const afterIds = new Set(change.after.map((s) => s.fingerprint));
  audit.append({
    actor: "agent",
    action: SIGNER_SET_AUDIT_ACTION,
    target: null,
    outcome: "done",
    details: {
      by: how.by,
      ...(how.journalId === undefined ? {} : { journal: how.journalId }),
      ...(how.enrollment === undefined ? {} : { enrollment: how.enrollment }),
      before,
      after,
      added: [...afterIds].filter((f) => !beforeIds.has(f)),
      removed: [...beforeIds].filter((f) => !afterIds.has(f)),
    },
  });
}
