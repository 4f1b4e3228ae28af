import type { Database } from "bun:sqlite";
import type { Clock } from "../util/clock.ts";
import { AuditLog } from "./audit.ts";
import { DesiredCache } from "./desired-cache.ts";
import { GoldenImages } from "./golden-images.ts";
import { GuestIdentities } from "./guest-identities.ts";
import { GuestOverrides } from "./guest-overrides.ts";
import { GuestTokens } from "./guest-tokens.ts";
import { Journal } from "./journal.ts";
import { Nonces } from "./nonces.ts";
import { Outbox, type OutboxOptions } from "./outbox.ts";
import { PendingOps } from "./pending.ts";
import {
  recordSignedIntent,
  type SignedIntentInput,
  type SignedIntentResult,
} from "./signed-intent.ts";

export interface StoreInfo {
  path: string;
  /** True when this open created the database: a fresh install, or a wiped state dir. */
  created: boolean;
  /** When the store was first initialized (the marker row written with the schema). */
  initializedAt: number;
  /** Random id written at initialization; a different id than last time means a new database. */
  storeId: string;
  schemaVersion: number;
  /** Migrations applied by this open, in order. */
  migrated: number[];
  /** True when this process holds the agent lock (the daemon); false for side commands. */
  exclusive: boolean;
}

/** The open state database and its repositories. Close it on shutdown. */
export class Store {
  readonly journal: Journal;
  readonly nonces: Nonces;
  readonly audit: AuditLog;
  readonly guestTokens: GuestTokens;
  readonly guestIdentities: GuestIdentities;
  readonly goldenImages: GoldenImages;
  readonly desired: DesiredCache;
  readonly outbox: Outbox;
  readonly pending: PendingOps;
  readonly guestOverrides: GuestOverrides;
  private closed = false;

  constructor(
    /** The raw connection, for tests and diagnostics; repositories are the API. */
    readonly db: Database,
    readonly info: StoreInfo,
    clock: Clock,
    private readonly onClose: () => void,
    outboxOptions: OutboxOptions = {},
  ) {
    this.journal = new Journal(db, clock);
    this.nonces = new Nonces(db, clock);
    this.audit = new AuditLog(db, clock);
    this.guestIdentities = new GuestIdentities(db, clock);
    this.guestTokens = new GuestTokens(db, clock, this.guestIdentities);
    this.goldenImages = new GoldenImages(db, clock);
    this.desired = new DesiredCache(db, clock);
    this.outbox = new Outbox(db, clock, outboxOptions);
    this.pending = new PendingOps(db, clock);
    this.guestOverrides = new GuestOverrides(db, clock);
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (nested calls become savepoints): all of its writes
   * are durable together or not at all. `fn` must be synchronous — no awaits inside.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Nonce + intent (+ release of a held operation) in one transaction; see signed-intent.ts. */
  recordSignedIntent(input: SignedIntentInput): SignedIntentResult {
    return recordSignedIntent(this, input);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } finally {
      this.onClose();
    }
  }
}
