import { type GoldenRegisterParams, goldenRegisterParams } from "../ops/params/golden-register.ts";
import { type SignersRotateParams, signersRotateParams } from "../ops/params/signers-rotate.ts";
import type { OpName } from "../ops/types.ts";
import { auditSignerSetChange } from "../store/signer-set-audit.ts";
import type { Store } from "../store/store.ts";

/**
 * A host-level operation the agent carries out in its own store, with no Proxmox call: it is
 * journaled intent → done in the one transaction that makes its change, so there is nothing
 * in flight to recover.
 */
export interface HostExecutor<P> {
  /** Validates params from any origin; throws ZodError. */
  parseParams(raw: unknown): P;
  /** Makes the change inside the journaling transaction; returns what the requester is told. */
  apply(
    store: Pick<Store, "goldenImages" | "enrolledSigners" | "audit">,
    params: P,
    journalId: number,
  ): Record<string, unknown>;
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

const HOST_EXECUTORS: Partial<Record<OpName, HostExecutor<unknown>>> = {
  "golden.register": goldenRegister as HostExecutor<unknown>,
  "signers.rotate": signersRotate as HostExecutor<unknown>,
};

export function hostExecutorFor(op: string): HostExecutor<unknown> | undefined {
  return Object.hasOwn(HOST_EXECUTORS, op) ? HOST_EXECUTORS[op as OpName] : undefined;
}
