import { signerEntrySchema } from "../authz/signers.ts";
import { parseSshPublicKey } from "../authz/ssh-public-key.ts";
import type { Logger } from "../log/types.ts";
import type { EnrolledSignerInput } from "../store/enrolled-signers.ts";
import { auditSignerSetChange } from "../store/signer-set-audit.ts";
import type { Store } from "../store/store.ts";
import { type HubIdentity, writeIdentity } from "./identity.ts";
import { identitySigners } from "./trust.ts";

export type SignerImportResult =
  | { kind: "not_enrolled" }
  | { kind: "current" }
  | { kind: "imported"; signers: number; skipped: number };

/** Names one enrollment: a new enrollment (another host id or time) is imported again. */
export function enrollmentMark(identity: HubIdentity): string {
  return `${identity.host_id}@${identity.enrolled_at}`;
}

/**
 * Moves the signers an enrollment accepted from the identity file into the store, once per
 * enrollment (src/store/README.md#enrolled-signers). From then on the store's set is the one in
 * force and the file's list is not read again, so a rotation is not undone by a restart. The
 * change is audited in the transaction that makes it. An entry that is not a usable signer is
 * left out and logged, as the gate would ignore it anyway.
 */
export function importEnrollmentSigners(
  store: Pick<Store, "enrolledSigners" | "audit" | "transaction">,
  identity: HubIdentity | undefined,
  logger: Logger,
): SignerImportResult {
  // The file was checked by its schema when it was read; entries are checked again one by one.
  if (identity === undefined) return { kind: "not_enrolled" };
  const mark = enrollmentMark(identity);
  if (store.enrolledSigners.importedFrom() === mark) return { kind: "current" };
  const usable: EnrolledSignerInput[] = [];
  let skipped = 0;
  const taken = new Set<string>();
  for (const s of identitySigners(identity)) {
    const ok = signerEntrySchema.safeParse({
      name: s.name,
      key: s.publicKey,
      role: s.role,
      ...(s.expiresAt === undefined ? {} : { expires: s.expiresAt }),
    });
    if (!ok.success) {
      skipped++;
      logger.warn("an enrolled signer is not usable; it is not imported", { signer: s.name });
      continue;
    }
    const fingerprint = parseSshPublicKey(s.publicKey).fingerprint;
    if (taken.has(fingerprint) || taken.has(`name:${s.name}`)) {
      // The same key or name twice: the first entry is the one the gate used to take.
      skipped++;
      logger.warn("an enrolled signer repeats a key or name; it is not imported", {
        signer: s.name,
      });
      continue;
    }
    taken.add(fingerprint).add(`name:${s.name}`);
    usable.push({
      name: s.name,
      publicKey: s.publicKey,
      role: ok.data.role,
      ...(s.expiresAt === undefined ? {} : { expiresAt: s.expiresAt }),
    });
  }
  store.transaction(() => {
    const change = store.enrolledSigners.importEnrollment(mark, usable);
    auditSignerSetChange(store.audit, change, { by: "enrollment", enrollment: mark });
  });
  logger.info("the enrolled signers were moved from the identity file into the state database", {
    signers: usable.length,
    skipped,
  });
  return { kind: "imported", signers: usable.length, skipped };
}

/**
 * Once the store holds an enrollment's signers, the identity file's copy is emptied: the
 * signers are moved, not copied. A copy left behind would come back after a state loss
 * (`run --new-state` imports the file again) and re-admit keys a rotation had removed, perhaps
 * because they were stolen; without it such a host is left with its configured signers only,
 * until it is enrolled again or its state restored. A failure to write the file changes
 * nothing in force (the store's set is the one the gate reads) and is tried again at the next
 * start. Returns true when the file was rewritten.
 */
export async function emptyMovedSigners(
  path: string,
  identity: HubIdentity | undefined,
  store: Pick<Store, "enrolledSigners">,
  logger: Logger,
): Promise<boolean> {
  if (identity === undefined || identity.signers.length === 0) return false;
  if (store.enrolledSigners.importedFrom() !== enrollmentMark(identity)) return false;
  try {
    await writeIdentity(path, { ...identity, signers: [] });
    return true;
  } catch (err) {
    logger.warn("the identity file still lists the enrolled signers; the next start tries again", {
      identity_file: path,
      error: (err as Error).message,
    });
    return false;
  }
}
