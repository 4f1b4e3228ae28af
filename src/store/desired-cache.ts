import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { invalidArgument } from "./errors.ts";
import { checkOptionalText, checkText } from "./validate.ts";

export interface CachedDesiredState {
  /** The document as received (JSON text); the caller validates it with its schema. */
  document: string;
  /** Where it came from: `file:/etc/…`, `hub`. */
  source: string;
  etag: string | null;
  receivedAt: number;
}

export interface DesiredInput {
  document: string;
  source: string;
  etag?: string | null;
}

interface Row {
  document: string;
  source: string;
  etag: string | null;
  received_at: number;
}

const MAX_DOCUMENT_CHARS = 16 * 1024 * 1024;

/**
 * The last desired-state document received (docs/architecture.md#no-desired-state-is-not-an-empty-one). `get()` is undefined until one has
 * been persisted — that is "no desired state", and the reconciler must plan nothing; a stored
 * document with no guests is an empty desired state, which is a different thing.
 */
export class DesiredCache {
  /** Bumped by every `put` through this object. */
  private writes = 0;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Changes after every `put` through this object. In the daemon every write of the document
   * goes through the one store it opened, and the store's exclusive lock keeps other processes
   * from writing, so an unchanged stamp means an unchanged document: a reader keeps its parsed
   * copy without reading the document again on every local-API request
   * (docs/architecture.md#local-api-request-path). Costs no SQLite statement: even `PRAGMA
   * data_version` costs about as much as a small read on this WAL database.
   */
  stamp(): string {
    return String(this.writes);
  }

  get(): CachedDesiredState | undefined {
    const row = this.db
      .query("SELECT document, source, etag, received_at FROM desired_state WHERE id = 1")
      .get() as Row | null;
    if (!row) return undefined;
    return {
      document: row.document,
      source: row.source,
      etag: row.etag,
      receivedAt: row.received_at,
    };
  }

  /** Replaces the cached document; refuses text that is not a JSON object. */
  put(input: DesiredInput): CachedDesiredState {
    if (typeof input.document !== "string" || input.document.length > MAX_DOCUMENT_CHARS) {
      throw invalidArgument(
        `desired-state document must be JSON text of at most ${MAX_DOCUMENT_CHARS} characters`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.document);
    } catch {
      throw invalidArgument("desired-state document is not valid JSON");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw invalidArgument("desired-state document must be a JSON object");
    }
    const entry: CachedDesiredState = {
      document: input.document,
      source: checkText(input.source, "desired-state source", 1024),
      etag: checkOptionalText(input.etag, "etag", 1024),
      receivedAt: this.clock.now(),
    };
    this.db
      .query(
        `INSERT INTO desired_state (id, document, source, etag, received_at)
         VALUES (1, $document, $source, $etag, $receivedAt)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, source = excluded.source,
           etag = excluded.etag, received_at = excluded.received_at`,
      )
      .run({ ...entry });
    this.writes++;
    return entry;
  }
}
