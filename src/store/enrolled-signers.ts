import type { Database } from "bun:sqlite";
import { SIGNER_ROLES, type SignerRole } from "../authz/roles.ts";
import { parseSshPublicKey, SshKeyError } from "../authz/ssh-public-key.ts";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkText } from "./validate.ts";

/** Where a row of the enrolled set came from. */
export type EnrolledSignerSource = "enrollment" | "rotation";

/** One operator signer of the enrolled set (src/store/README.md#enrolled-signers). */
export interface EnrolledSigner {
  name: string;
  /** `SHA256:…`, computed here from the key, never taken from the caller. */
  fingerprint: string;
  role: SignerRole;
  /** The `ssh-ed25519 AAAA… [comment]` line. */
  publicKey: string;
  /** RFC 3339; absent = no expiry. */
  expiresAt?: string;
  source: EnrolledSignerSource;
  /** The signers.rotate journal entry that wrote it; null for rows from the enrollment file. */
  journalId: number | null;
  addedAt: number;
}

export interface EnrolledSignerInput {
  name: string;
  publicKey: string;
  role: SignerRole;
  expiresAt?: string;
}

/** What a replacement changed, by fingerprint, for the audit row that records it. */
export interface SignerSetChange {
  before: EnrolledSigner[];
  after: EnrolledSigner[];
}

interface Row {
  name: string;
  fingerprint: string;
  role: SignerRole;
  public_key: string;
  expires_at: string | null;
  source: EnrolledSignerSource;
  journal_id: number | null;
  added_at: number;
}

const toSigner = (r: Row): EnrolledSigner => ({
  name: r.name,
  fingerprint: r.fingerprint,
  role: r.role,
  publicKey: r.public_key,
  ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
  source: r.source,
  journalId: r.journal_id,
  addedAt: r.added_at,
});

/** The meta key naming the enrollment whose file the set was imported from. */
const IMPORTED_FROM = "enrolled_signers_from";

function fingerprintOf(line: string): string {
  try {
    return parseSshPublicKey(line).fingerprint;
  } catch (e) {
    if (e instanceof SshKeyError) throw invalidArgument(`signer key: ${e.message}`);
    throw e;
  }
}

/**
 * The enrolled signer set. It is replaced whole, never edited row by row: by the one-time
 * import of the enrollment file, and by the executor of a signed `signers.rotate`, each inside
 * the transaction that journals and audits it.
 */
export class EnrolledSigners {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  list(): EnrolledSigner[] {
    return (
      this.db.query("SELECT * FROM enrolled_signers ORDER BY added_at, name").all() as Row[]
    ).map(toSigner);
  }

  /** The enrollment the set was imported from (`<host id>@<enrolled at>`); undefined = never. */
  importedFrom(): string | undefined {
    const row = this.db
      .query("SELECT value FROM meta WHERE key = $key")
      .get({ key: IMPORTED_FROM }) as { value: string } | null;
    return row?.value;
  }

  /**
   * Replaces the set with the signers of an enrollment and notes which enrollment it was, so
   * the file is read once per enrollment. Call inside a transaction with its audit row.
   */
  importEnrollment(enrollment: string, signers: readonly EnrolledSignerInput[]): SignerSetChange {
    checkText(enrollment, "enrollment", 512);
    const change = this.replaceAll(signers, "enrollment", null);
    this.db
      .query("INSERT OR REPLACE INTO meta (key, value) VALUES ($key, $value)")
      .run({ key: IMPORTED_FROM, value: enrollment });
    return change;
  }

  /** Replaces the set as a signed rotation wrote it; call inside its journaling transaction. */
  rotate(signers: readonly EnrolledSignerInput[], journalId: number): SignerSetChange {
    if (!Number.isSafeInteger(journalId) || journalId < 1) {
      throw invalidArgument("journalId must be a positive integer");
    }
    return this.replaceAll(signers, "rotation", journalId);
  }

  private replaceAll(
    signers: readonly EnrolledSignerInput[],
    source: EnrolledSignerSource,
    journalId: number | null,
  ): SignerSetChange {
    const now = this.clock.now();
    const rows = signers.map((s) => {
      if (!(SIGNER_ROLES as readonly string[]).includes(s.role)) {
        throw invalidArgument(`signer role must be one of ${SIGNER_ROLES.join(", ")}`);
      }
      if (s.expiresAt !== undefined && Number.isNaN(Date.parse(s.expiresAt))) {
        throw invalidArgument("signer expiry must be an RFC 3339 time");
      }
      return {
        name: checkText(s.name, "signer name", 128),
        fingerprint: fingerprintOf(checkText(s.publicKey, "signer key", 512)),
        role: s.role,
        public_key: s.publicKey,
        expires_at: s.expiresAt ?? null,
      };
    });
    return this.db
      .transaction(() => {
        const before = this.list();
        this.db.run("DELETE FROM enrolled_signers");
        const insert = this.db.query(
          `INSERT INTO enrolled_signers
             (fingerprint, name, role, public_key, expires_at, source, journal_id, added_at)
           VALUES ($fingerprint, $name, $role, $key, $expires, $source, $journal, $now)`,
        );
        // A signer kept across a rotation keeps when it was first added.
        const since = new Map(before.map((b) => [b.fingerprint, b.addedAt]));
        for (const r of rows) {
          insert.run({
            fingerprint: r.fingerprint,
            name: r.name,
            role: r.role,
            key: r.public_key,
            expires: r.expires_at,
            source,
            journal: journalId,
            now: since.get(r.fingerprint) ?? now,
          });
        }
        return { before, after: this.list() };
      })
      .immediate();
  }
}
