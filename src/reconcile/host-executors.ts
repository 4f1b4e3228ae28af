import { z } from "zod";
import type { OpName } from "../ops/types.ts";
import { GOLDEN_CHECKSUM, GOLDEN_VOLID } from "../store/golden-images.ts";
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

const goldenRegisterParams = z.strictObject({
  volid: z.string().max(512).regex(GOLDEN_VOLID, "not a backup volume id (<storage>:<volume>)"),
  checksum: z.string().regex(GOLDEN_CHECKSUM, "not sha256:<64 lowercase hex>").optional(),
});

/**
 * `golden.register`: an operator declares an archive a golden image, so new guests may be
 * provisioned from it without a signature (src/gate/README.md). Signed, because it decides
 * what an unsigned provision may copy.
 */
const goldenRegister: HostExecutor<z.output<typeof goldenRegisterParams>> = {
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
