import type { Database } from "bun:sqlite";
import { GOLDEN_CHECKSUM, GOLDEN_VOLID } from "../ops/params/golden-register.ts";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkText } from "./validate.ts";

export type GoldenSource = "built" | "registered";

/** A vzdump archive the agent knows as a golden image: what an unsigned provision may copy. */
export interface GoldenImage {
  volid: string;
  /** `sha256:<64 hex>` when known. */
  checksum: string | null;
  source: GoldenSource;
  /** The journal entry that built or registered it. */
  journalId: number | null;
  createdAt: number;
}

export interface GoldenInput {
  volid: string;
  checksum?: string | null;
  source: GoldenSource;
  journalId?: number | null;
}

interface Row {
  volid: string;
  checksum: string | null;
  source: GoldenSource;
  journal_id: number | null;
  created_at: number;
}

const toImage = (r: Row): GoldenImage => ({
  volid: r.volid,
  checksum: r.checksum,
  source: r.source,
  journalId: r.journal_id,
  createdAt: r.created_at,
});

/**
 * Golden images (src/store/README.md). Rows are written only by the agent's own build or by
 * the executor of a signed `golden.register`, so the gate can trust them as provenance.
 */
export class GoldenImages {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  byVolid(volid: string): GoldenImage | undefined {
    if (typeof volid !== "string" || volid.length === 0 || volid.length > 512) return undefined;
    const row = this.db
      .query("SELECT * FROM golden_images WHERE volid = $volid")
      .get({ volid }) as Row | null;
    return row ? toImage(row) : undefined;
  }

  /** Records (or re-records, e.g. with a checksum learned since) one golden image. */
  record(input: GoldenInput): GoldenImage {
    const volid = checkText(input.volid, "volid", 512);
    if (!GOLDEN_VOLID.test(volid)) throw invalidArgument(`'${volid}' is not a volume id`);
    const checksum = input.checksum ?? null;
    if (checksum !== null && !GOLDEN_CHECKSUM.test(checksum)) {
      throw invalidArgument("checksum must be sha256:<64 lowercase hex digits>");
    }
    if (input.source !== "built" && input.source !== "registered") {
      throw invalidArgument(`source must be built or registered, got ${String(input.source)}`);
    }
    this.db
      .query(
        `INSERT INTO golden_images (volid, checksum, source, journal_id, created_at)
         VALUES ($volid, $checksum, $source, $journal, $now)
         ON CONFLICT (volid) DO UPDATE SET checksum = excluded.checksum,
           source = excluded.source, journal_id = excluded.journal_id`,
      )
      .run({
        volid,
        checksum,
        source: input.source,
        journal: input.journalId ?? null,
        now: this.clock.now(),
      });
    return this.byVolid(volid) as GoldenImage;
  }

  list(): GoldenImage[] {
    return (
      this.db.query("SELECT * FROM golden_images ORDER BY created_at, volid").all() as Row[]
    ).map(toImage);
  }
}
