import { type GoldenRegisterParams, goldenRegisterParams } from "../ops/params/golden-register.ts";
import type { OpName } from "../ops/types.ts";
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
  apply(store: Pick<Store, "goldenImages">, params: P, journalId: number): Record<string, unknown>;
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

const HOST_EXECUTORS: Partial<Record<OpName, HostExecutor<unknown>>> = {
  "golden.register": goldenRegister as HostExecutor<unknown>,
};

export function hostExecutorFor(op: string): HostExecutor<unknown> | undefined {
  return Object.hasOwn(HOST_EXECUTORS, op) ? HOST_EXECUTORS[op as OpName] : undefined;
}
