import type { Database } from "bun:sqlite";
import { statSync } from "node:fs";
import type { Clock } from "../util/clock.ts";
import { AgentUpdates } from "./agent-updates.ts";
import { AuditLog } from "./audit.ts";
import { BackupHistory } from "./backup-history.ts";
import { BackupPolicies } from "./backup-policies.ts";
import { BackupRequests } from "./backup-requests.ts";
import { BootstrapCodes } from "./bootstrap-codes.ts";
import { DesiredCache } from "./desired-cache.ts";
import { EnrolledSigners } from "./enrolled-signers.ts";
import { StoreError } from "./errors.ts";
import { GoldenImages } from "./golden-images.ts";
import { GuestIdentities } from "./guest-identities.ts";
import { GuestOverrides } from "./guest-overrides.ts";
import { GuestTokens } from "./guest-tokens.ts";
import { HealthAlerts } from "./health-alerts.ts";
import { HubJobs } from "./hub-jobs.ts";
import { Journal } from "./journal.ts";
import { Nonces } from "./nonces.ts";
import { OperatorRequests } from "./operator-requests.ts";
import { Outbox, type OutboxOptions } from "./outbox.ts";
import { PendingOps } from "./pending.ts";
import type { QuarantinedRow } from "./quarantine.ts";
import {
  recordSignedIntent,
  type SignedIntentInput,
  type SignedIntentResult,
} from "./signed-intent.ts";
import { StoragePresence } from "./storage-presence.ts";

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
  /** Device and inode of the database file opened, to notice it being replaced underneath. */
  file: FileId;
  /** The state directory whose flock this process holds (exclusive opens only). */
  lockDir?: FileId & { path: string };
}

/** What the store tells its owner about (the daemon logs it). */
export interface StoreEvents {
  /** A journal, outbox or held-operation row could not be read and was set aside (quarantine.ts). */
  onQuarantine?: (q: QuarantinedRow) => void;
}

export interface FileId {
  dev: number;
  ino: number;
}

/** The open state database and its repositories. Close it on shutdown. */
export class Store {
  readonly journal: Journal;
  readonly nonces: Nonces;
  readonly audit: AuditLog;
  readonly guestTokens: GuestTokens;
  readonly bootstrapCodes: BootstrapCodes;
  readonly guestIdentities: GuestIdentities;
  readonly goldenImages: GoldenImages;
  readonly agentUpdates: AgentUpdates;
  readonly desired: DesiredCache;
  readonly outbox: Outbox;
  readonly pending: PendingOps;
  readonly guestOverrides: GuestOverrides;
  readonly hubJobs: HubJobs;
  readonly enrolledSigners: EnrolledSigners;
  readonly operatorRequests: OperatorRequests;
  readonly storagePresence: StoragePresence;
  readonly backupPolicies: BackupPolicies;
  readonly backupHistory: BackupHistory;
  readonly backupRequests: BackupRequests;
  readonly healthAlerts: HealthAlerts;
  private closed = false;

  constructor(
    /** The raw connection, for tests and diagnostics; repositories are the API. */
    readonly db: Database,
    readonly info: StoreInfo,
    clock: Clock,
    private readonly onClose: () => void,
    outboxOptions: OutboxOptions = {},
    events: StoreEvents = {},
  ) {
    const onQuarantine = (q: QuarantinedRow): void => {
      try {
        this.audit.append({
          actor: "agent",
          action: `${q.table}.quarantine`,
          target: q.vmid === undefined ? null : `guest:${q.vmid}`,
          outcome: "quarantined",
          details: { [`${q.table}_id`]: q.id, reason: q.reason },
        });
      } catch {
        // The audit log could not take it (full disk, read-only side command); still logged.
      }
      events.onQuarantine?.(q);
    };
    this.journal = new Journal(db, clock, onQuarantine);
    this.nonces = new Nonces(db, clock);
    this.audit = new AuditLog(db, clock);
    this.guestIdentities = new GuestIdentities(db, clock);
    this.guestTokens = new GuestTokens(db, clock, this.guestIdentities);
    this.bootstrapCodes = new BootstrapCodes(db, clock, this.guestIdentities);
    this.goldenImages = new GoldenImages(db, clock);
    this.agentUpdates = new AgentUpdates(db, clock);
    this.desired = new DesiredCache(db, clock);
    this.outbox = new Outbox(db, clock, outboxOptions, onQuarantine);
    this.pending = new PendingOps(db, clock, onQuarantine);
    this.guestOverrides = new GuestOverrides(db, clock);
    this.hubJobs = new HubJobs(db, this.outbox);
    this.enrolledSigners = new EnrolledSigners(db, clock);
    this.operatorRequests = new OperatorRequests(db, clock);
    this.storagePresence = new StoragePresence(db, clock, this.audit);
    this.backupPolicies = new BackupPolicies(db, clock);
    this.backupHistory = new BackupHistory(db, clock);
    this.backupRequests = new BackupRequests(db, clock);
    this.healthAlerts = new HealthAlerts(db, clock, this.audit);
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

  /**
   * Throws StoreError `replaced` when the database file at `info.path`, or the locked state
   * directory, is no longer the one this store opened: writes would land in an unlinked file
   * nobody will read again, beside a second agent that started on the new one.
   */
  checkIntact(): void {
    checkSame(this.info.path, this.info.file, "state database");
    const dir = this.info.lockDir;
    if (dir) checkSame(dir.path, dir, "state directory");
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

function checkSame(path: string, want: FileId, what: string): void {
  let now: FileId | undefined;
  try {
    const st = statSync(path);
    now = { dev: st.dev, ino: st.ino };
  } catch {
    now = undefined;
  }
  if (now !== undefined && now.dev === want.dev && now.ino === want.ino) return;
  throw new StoreError({
    kind: "replaced",
    path,
    message: `the ${what} ${path} is ${now === undefined ? "gone" : "a different file"} since this felhom-agent opened it; it stops changing anything. Find out who removed or replaced it, then restore the state (felhom-agent state restore FILE) or start felhom-agent again`,
  });
}
