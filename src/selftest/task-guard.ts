import type { DesiredCacheReader } from "../reconcile/desired-provider.ts";
import { parseDesiredText } from "../reconcile/desired-state.ts";
import type { AuditSink } from "../store/audit.ts";

/**
 * `--selftest=task` snapshots, rolls back and deletes a snapshot outside the gate, the journal
 * and the reconciler. That is fine on a scratch guest and wrong on a customer's: the rollback
 * resets the guest to a moment ago and restarts it. So a guest that belongs to someone (the
 * desired state manages it, or an in-guest controller holds a local-API token for it) is
 * refused unless the operator says `--force`, and the decision is audited either way.
 */
export interface TaskGuardInput {
  vmid: number;
  /** The store's persisted desired state (from the hub or an earlier desired_file read). */
  cache: DesiredCacheReader;
  /** `desired_file` from the config, when set: read now, as `run` would. */
  desiredFile?: { path: string; read: (path: string) => Promise<string | undefined> };
  /** Tokens ever minted; revoked ones do not count. */
  tokens: () => readonly { vmid: number; revokedAt: number | null }[];
}

/** Why guest `vmid` is a customer's; empty when it is free to exercise. */
export async function taskGuardReasons(input: TaskGuardInput): Promise<string[]> {
  const { vmid } = input;
  const reasons: string[] = [];
  const cached = input.cache.get();
  if (cached !== undefined) {
    try {
      if (parseDesiredText(cached.document, "cache").guests.has(vmid)) {
        reasons.push(`the desired state (${cached.source ?? "store"}) manages guest ${vmid}`);
      }
    } catch (err) {
      reasons.push(
        `the persisted desired state cannot be read (${(err as Error).message}), so it may manage guest ${vmid}`,
      );
    }
  }
  if (input.desiredFile !== undefined) {
    const { path, read } = input.desiredFile;
    let text: string | undefined;
    try {
      text = await read(path);
    } catch (err) {
      reasons.push(`desired_file ${path} cannot be read (${(err as Error).message})`);
    }
    if (text !== undefined) {
      try {
        if (parseDesiredText(text, path).guests.has(vmid)) {
          reasons.push(`desired_file ${path} manages guest ${vmid}`);
        }
      } catch (err) {
        reasons.push(`desired_file ${path} is invalid (${(err as Error).message})`);
      }
    }
  }
  const active = input.tokens().filter((t) => t.vmid === vmid && t.revokedAt === null).length;
  if (active > 0) {
    reasons.push(
      `guest ${vmid} has ${active} local-API token${active === 1 ? "" : "s"} (an in-guest controller uses it)`,
    );
  }
  return reasons;
}

export type TaskAuditOutcome = "refused" | "started" | "ok" | "failed";

/** One audit row per decision and one for the result; the operator is the actor. */
export function auditTaskSelftest(
  audit: AuditSink,
  vmid: number,
  outcome: TaskAuditOutcome,
  details: Record<string, unknown>,
): void {
  audit.append({
    actor: "operator",
    action: "selftest.task",
    target: `guest:${vmid}`,
    outcome,
    details,
  });
}
