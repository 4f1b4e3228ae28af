import type { Signer } from "../authz/signers.ts";
import type { StatusReportBody } from "../hub/report-collector.ts";
import type { EnrolledSigner } from "../store/enrolled-signers.ts";

/**
 * The signers in force as the status report carries them: the gate's own list, each with where
 * it comes from, so the hub sees a rotation the moment it holds (docs/hub-protocol.md#signers-in-force).
 */
export function reportedSigners(
  inForce: readonly Signer[],
  configured: readonly Signer[],
  enrolled: readonly EnrolledSigner[],
): NonNullable<StatusReportBody["signers"]> {
  const fromConfig = new Set(configured.map((s) => s.keyId));
  const source = new Map(enrolled.map((e) => [e.fingerprint, e.source]));
  return inForce.map((s) => ({
    name: s.name,
    fingerprint: s.keyId,
    role: s.role,
    source: fromConfig.has(s.keyId) ? "config" : (source.get(s.keyId) ?? "enrollment"),
    ...(s.expiresAt === undefined ? {} : { expires_at: new Date(s.expiresAt).toISOString() }),
  }));
}
