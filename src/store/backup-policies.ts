import type { Database } from "bun:sqlite";
import { type BackupPolicy, backupPolicySchema } from "../ops/params/backup-policy.ts";
import { canonicalJson } from "../util/canonical-json.ts";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";

/** The backup policy in force and where it came from (src/store/README.md#backup-policy-and-history). */
export interface PolicyInForce {
  policy: BackupPolicy;
  source: "desired" | "signed";
  journalId: number | null;
  since: number;
}

interface Row {
  policy: string;
  source: "desired" | "signed";
  journal_id: number | null;
  created_at: number;
}

/**
 * Backup policies, newest in force. A row is written by the reconcile loop for a desired
 * policy that passed the floor, or by the executor of a signed `backup.policy` inside the
 * transaction that journals it; the text is canonical JSON, so equal policies compare equal.
 */
export class BackupPolicies {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  inForce(): PolicyInForce | undefined {
    const row = this.db
      .query("SELECT * FROM backup_policies ORDER BY id DESC LIMIT 1")
      .get() as Row | null;
    if (row === null) return undefined;
    // Rows are validated on the way in; a row that no longer parses is not a policy to act on.
    const parsed = backupPolicySchema.safeParse(JSON.parse(row.policy));
    if (!parsed.success) return undefined;
    return {
      policy: parsed.data,
      source: row.source,
      journalId: row.journal_id,
      since: row.created_at,
    };
  }

  /** Puts `policy` in force; a signed one names the journal entry that carried it. */
  record(policy: BackupPolicy, source: "desired" | "signed", journalId?: number): PolicyInForce {
    const parsed = backupPolicySchema.safeParse(policy);
    if (!parsed.success) throw invalidArgument(`not a backup policy: ${parsed.error.message}`);
    if (source === "signed" && journalId === undefined) {
      throw invalidArgument("a signed backup policy names the journal entry that carried it");
    }
    const now = this.clock.now();
    this.db
      .query(
        `INSERT INTO backup_policies (policy, source, journal_id, created_at)
         VALUES ($policy, $source, $journal, $now)`,
      )
      .run({ policy: canonicalJson(parsed.data), source, journal: journalId ?? null, now });
    return { policy: parsed.data, source, journalId: journalId ?? null, since: now };
  }
}

/** Whether two policies are the same document (canonical JSON equality). */
export function samePolicy(a: BackupPolicy, b: BackupPolicy): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
