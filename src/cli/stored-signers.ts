import { existsSync } from "node:fs";
import type { StoredSigners } from "../hub/trust-summary.ts";
import type { EnrolledSigner } from "../store/enrolled-signers.ts";
import { StoreError } from "../store/errors.ts";

/** The parts of the store that hold the enrolled signer set; tests inject one. */
export interface SignerStoreHandle {
  enrolledSigners: { list(): EnrolledSigner[]; importedFrom(): string | undefined };
  close(): void;
}

export type SignerStoreOpener = (path: string) => Promise<SignerStoreHandle> | SignerStoreHandle;

async function defaultOpen(path: string): Promise<SignerStoreHandle> {
  const { openStore } = await import("../store/open.ts");
  // Reads only, next to a running daemon; never creates a database.
  return openStore({ path, exclusive: false, mustExist: true });
}

/**
 * The enrolled set as the state database holds it; undefined when there is no database yet
 * (the daemon has not run: the identity file's list is the one its first start imports).
 * A database that cannot be read is a StoreError for the caller to report.
 */
export async function readStoredSigners(
  path: string,
  open?: SignerStoreOpener,
): Promise<StoredSigners | undefined> {
  if (open === undefined && !existsSync(path)) return undefined;
  let handle: SignerStoreHandle;
  try {
    handle = await (open ?? defaultOpen)(path);
  } catch (err) {
    if (err instanceof StoreError && err.kind === "missing") return undefined;
    throw err;
  }
  try {
    return {
      importedFrom: handle.enrolledSigners.importedFrom(),
      list: handle.enrolledSigners.list(),
    };
  } finally {
    handle.close();
  }
}
