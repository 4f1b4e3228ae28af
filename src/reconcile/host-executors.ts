import { type AgentUpdateParams, agentUpdateParams } from "../ops/params/agent-update.ts";
import { type BackupPolicyParams, backupPolicyParams } from "../ops/params/backup-policy.ts";
import { type GoldenRegisterParams, goldenRegisterParams } from "../ops/params/golden-register.ts";
import { type SignersRotateParams, signersRotateParams } from "../ops/params/signers-rotate.ts";
import type { OpName } from "../ops/types.ts";
import { auditSignerSetChange } from "../store/signer-set-audit.ts";
import type { Store } from "../store/store.ts";
import { compareVersions } from "../util/semver.ts";
import { AGENT_VERSION } from "../version.ts";

/**
 * A host-level operation the agent carries out in its own store, with no Proxmox call: it is
 * journaled intent → done in the one transaction that makes its change, so there is nothing
 * in flight to recover.
 */
export interface HostExecutor<P> {
  /** Validates params from any origin; throws ZodError. */
  parseParams(raw: unknown): P;
  /**
   * Checks the request against the agent's own state before the gate: a refusal here is
   * audited like any refusal before the gate, and no nonce is spent.
   */
  admit?(store: HostStore, params: P, now: number): HostRefusal | undefined;
  /** Makes the change inside the journaling transaction; returns what the requester is told. */
  apply(store: HostStore, params: P, journalId: number): Record<string, unknown>;
}

type HostStore = Pick<
  Store,
  "goldenImages" | "enrolledSigners" | "audit" | "agentUpdates" | "backupPolicies"
>;

/** Why a host operation is refused before the gate: a typed code and a sentence. */
export interface HostRefusal {
  code: string;
  message: string;
}

/**
 * `golden.register`: an operator declares an archive a golden image, so new guests may be
 * provisioned from it without a signature (src/gate/README.md). Signed, because it decides
 * what an unsigned provision may copy.
 */
const goldenRegister: HostExecutor<GoldenRegisterParams> = {
  parseParams: (raw) => goldenRegisterParams.parse(raw),
  apply(store, p, journalId) {
    const image = store.goldenImages.record({
      volid: p.volid,
      checksum: p.checksum ?? null,
      source: "registered",
      journalId,
    });
    return { golden: image.volid, ...(image.checksum ? { checksum: image.checksum } : {}) };
  },
};

/**
 * `signers.rotate`: replaces the enrolled signer set (docs/architecture.md#operator-key-rotation).
 * Who may sign which set was decided at the gate, with the signer's role in hand; here the set
 * is written and the change audited with the fingerprints before and after, in the one
 * journaling transaction, so the next envelope is verified against the new set.
 */
const signersRotate: HostExecutor<SignersRotateParams> = {
  parseParams: (raw) => signersRotateParams.parse(raw),
  apply(store, p, journalId) {
    const change = store.enrolledSigners.rotate(
      p.signers.map((s) => ({
        name: s.name,
        publicKey: s.key,
        role: s.role,
        ...(s.expires === undefined ? {} : { expiresAt: s.expires }),
      })),
      journalId,
    );
    auditSignerSetChange(store.audit, change, { by: "rotation", journalId });
    return {
      signers: change.after.map((s) => ({
        name: s.name,
        fingerprint: s.fingerprint,
        role: s.role,
      })),
    };
  },
};

/**
 * `agent.update`: records the attempt; the daemon's updater then downloads, verifies, smoke
 * tests and switches (docs/self-update.md#steps-and-recovery). Refused before the gate: an
 * expired instruction, an older version without `allow_downgrade` (anti-rollback), the running
 * version, a version that failed here before, or while another update is open.
 */
const agentUpdate: HostExecutor<AgentUpdateParams> = {
  parseParams: (raw) => agentUpdateParams.parse(raw),
  admit(store, p, now) {
    if (Date.parse(p.expires) <= now) {
      return { code: "update_expired", message: `the update instruction expired at ${p.expires}` };
    }
    const order = compareVersions(p.version, AGENT_VERSION);
    if (order === 0) {
      return { code: "update_same_version", message: `${p.version} is the version running` };
    }
    if (order < 0 && p.allow_downgrade !== true) {
      return {
        code: "update_downgrade",
        message: `${p.version} is older than the running ${AGENT_VERSION}; a downgrade must be signed with allow_downgrade`,
      };
    }
    if (store.agentUpdates.hasFailed(p.version)) {
      return {
        code: "update_failed_before",
        message: `${p.version} failed or was rolled back on this host before; it is not tried again`,
      };
    }
    const open = store.agentUpdates.open();
    if (open !== undefined) {
      return {
        code: "update_in_progress",
        message: `the update to ${open.version} is still in progress (step ${open.step})`,
      };
    }
    return undefined;
  },
  apply(store, p, journalId) {
    const attempt = store.agentUpdates.record({
      journalId,
      version: p.version,
      fromVersion: AGENT_VERSION,
      target: p.target,
      sha256: p.sha256,
      size: p.size,
      expiresAt: Date.parse(p.expires),
    });
    return { update: attempt.id, version: attempt.version, step: attempt.step };
  },
};

/**
 * `backup.policy`: puts a backup policy in force that the floor would hold back, or that keeps
 * less than the one in force (docs/reconcile.md#backup-retention-floor). Signed, because a
 * policy decides which backups the retention step removes.
 */
const backupPolicy: HostExecutor<BackupPolicyParams> = {
  parseParams: (raw) => backupPolicyParams.parse(raw),
  apply(store, p, journalId) {
    const rec = store.backupPolicies.record(p.policy, "signed", journalId);
    return { backup_policy: "in_force", tiers: Object.keys(rec.policy.tiers).sort() };
  },
};

const HOST_EXECUTORS: Partial<Record<OpName, HostExecutor<unknown>>> = {
  "golden.register": goldenRegister as HostExecutor<unknown>,
  "signers.rotate": signersRotate as HostExecutor<unknown>,
  "agent.update": agentUpdate as HostExecutor<unknown>,
  "backup.policy": backupPolicy as HostExecutor<unknown>,
};

export function hostExecutorFor(op: string): HostExecutor<unknown> | undefined {
  return Object.hasOwn(HOST_EXECUTORS, op) ? HOST_EXECUTORS[op as OpName] : undefined;
}
