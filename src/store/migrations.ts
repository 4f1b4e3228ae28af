import type { Database } from "bun:sqlite";

/**
 * One forward-only schema step. Its version is its position in MIGRATIONS (first = 1); the SQL
 * is embedded here so a compiled binary never reads schema files at run time. Never edit or
 * reorder a released entry: add the next one at the end (the upgrade test then covers it).
 */
export interface Migration {
  readonly name: string;
  readonly sql: string;
  /**
   * The step rebuilds tables other tables reference, so it runs with foreign keys off and checks
   * them all before it commits (SQLite's documented table rebuild,
   * src/store/README.md#rebuilding-a-table).
   */
  readonly rebuildsTables?: true;
}

/** The origins the released migrations allowed: frozen, their SQL never changes. */
const ORIGINS = "'reconcile', 'localapi', 'job', 'operator'";
/** Every origin the journal and the pending table accept since the scheduler got its own. */
const ORIGINS_WITH_SCHEDULE = `${ORIGINS}, 'schedule'`;

export const MIGRATIONS: readonly Migration[] = [
  {
    name: "meta and journal",
    sql: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vmid INTEGER,
        op TEXT NOT NULL,
        params TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN (${ORIGINS})),
        job_id TEXT,
        phase TEXT NOT NULL CHECK (phase IN ('intent', 'posted', 'done', 'failed', 'abandoned')),
        upid TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        provenance TEXT,
        resolution TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK (phase <> 'posted' OR upid IS NOT NULL)
      ) STRICT;
      CREATE INDEX journal_in_flight ON journal (id) WHERE phase IN ('intent', 'posted');
      CREATE INDEX journal_vmid ON journal (vmid, id);
      CREATE INDEX journal_job ON journal (job_id, id) WHERE job_id IS NOT NULL;
    `,
  },
  {
    name: "nonces and pending operations",
    sql: `
      CREATE TABLE nonces (
        nonce TEXT PRIMARY KEY,
        consumed_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX nonces_expiry ON nonces (expires_at);

      CREATE TABLE pending_ops (
        id TEXT PRIMARY KEY,
        op TEXT NOT NULL,
        vmid INTEGER,
        params TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN (${ORIGINS})),
        job_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'released', 'rejected', 'expired')),
        reason TEXT,
        resolution TEXT,
        journal_id INTEGER REFERENCES journal (id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX pending_ops_job ON pending_ops (job_id) WHERE job_id IS NOT NULL;
      CREATE INDEX pending_ops_status ON pending_ops (status, created_at);
    `,
  },
  {
    name: "audit log",
    sql: `
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
      ) STRICT;
      -- Append-only by construction. The insert guard also stops INSERT OR REPLACE, whose
      -- implicit delete skips delete triggers unless recursive_triggers is on.
      CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit
        WHEN NEW.seq <> (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit)
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: seq must follow the last row'); END;
      CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: UPDATE refused'); END;
      CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: DELETE refused'); END;

      CREATE TABLE audit_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        head_seq INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        delivered_seq INTEGER NOT NULL
      ) STRICT;
      INSERT INTO audit_state (id, head_seq, head_hash, delivered_seq)
        VALUES (1, 0, '${"0".repeat(64)}', 0);
    `,
  },
  {
    name: "guest tokens",
    sql: `
      CREATE TABLE guest_tokens (
        id TEXT PRIMARY KEY,
        vmid INTEGER NOT NULL,
        token_hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX guest_tokens_vmid ON guest_tokens (vmid);
    `,
  },
  {
    name: "desired-state cache and report outbox",
    sql: `
      CREATE TABLE desired_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        document TEXT NOT NULL,
        source TEXT NOT NULL,
        etag TEXT,
        received_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX outbox_kind ON outbox (kind, id);
    `,
  },
  {
    name: "guest overrides",
    sql: `
      -- A guest's own grow through the local API (docs/desired-state.md#the-guests-own-grows), one row per field of the
      -- guest.config that asked for it. In force only once that journal entry is done; the
      -- desired value it was measured against decides when the desired state has moved on.
      CREATE TABLE guest_overrides (
        journal_id INTEGER NOT NULL REFERENCES journal (id),
        vmid INTEGER NOT NULL,
        field TEXT NOT NULL CHECK (field IN ('cores', 'memory_mib')),
        value INTEGER NOT NULL CHECK (value >= 1),
        desired_value INTEGER CHECK (desired_value IS NULL OR desired_value >= 1),
        created_at INTEGER NOT NULL,
        reported_at INTEGER,
        PRIMARY KEY (journal_id, field)
      ) STRICT;
      CREATE INDEX guest_overrides_field ON guest_overrides (vmid, field, journal_id);
    `,
  },
  {
    name: "audit anchor",
    sql: `
      -- Audit rows the hub acknowledged may be pruned past a retention; the last pruned row's
      -- seq and hash stay as the anchor the chain verifies from (src/store/README.md).
      ALTER TABLE audit_state ADD COLUMN anchor_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE audit_state ADD COLUMN anchor_hash TEXT NOT NULL DEFAULT '${"0".repeat(64)}';
      -- After a prune the table can be empty: the next row follows the anchor.
      DROP TRIGGER audit_append_only_insert;
      CREATE TRIGGER audit_append_only_insert BEFORE INSERT ON audit
        WHEN NEW.seq <> COALESCE(
          (SELECT MAX(seq) FROM audit), (SELECT anchor_seq FROM audit_state WHERE id = 1)) + 1
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: seq must follow the last row'); END;
      -- Only rows at or before the anchor may go, and the anchor is set first.
      DROP TRIGGER audit_append_only_delete;
      CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        WHEN OLD.seq > (SELECT anchor_seq FROM audit_state WHERE id = 1)
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: DELETE refused'); END;
      CREATE TRIGGER audit_anchor_forward BEFORE UPDATE OF anchor_seq ON audit_state
        WHEN NEW.anchor_seq < OLD.anchor_seq OR NEW.anchor_seq > NEW.delivered_seq
        BEGIN SELECT RAISE(ABORT, 'the audit anchor only moves forward, up to what the hub acknowledged'); END;
    `,
  },
  {
    name: "guest identities and golden images",
    sql: `
      -- A guest's durable identity, assigned by the agent when it first manages or provisions
      -- the guest, and retired when the guest is destroyed or restored over: a vmid reused by
      -- a new guest is a new identity. At most one live identity per vmid.
      CREATE TABLE guest_identities (
        uid TEXT PRIMARY KEY,
        vmid INTEGER NOT NULL CHECK (vmid BETWEEN 100 AND 999999999),
        created_at INTEGER NOT NULL,
        retired_at INTEGER,
        retired_by INTEGER REFERENCES journal (id)
      ) STRICT;
      CREATE UNIQUE INDEX guest_identities_live ON guest_identities (vmid)
        WHERE retired_at IS NULL;

      -- Tokens belong to a guest identity, not to a vmid. Tokens minted before this schema get
      -- the identity of their vmid's guest, created here for every vmid that has tokens.
      ALTER TABLE guest_tokens ADD COLUMN guest_uid TEXT REFERENCES guest_identities (uid);
      INSERT INTO guest_identities (uid, vmid, created_at)
        SELECT 'g-' || lower(hex(randomblob(16))), vmid, MIN(created_at)
        FROM guest_tokens GROUP BY vmid;
      UPDATE guest_tokens SET guest_uid = (
        SELECT uid FROM guest_identities i
        WHERE i.vmid = guest_tokens.vmid AND i.retired_at IS NULL
      );
      CREATE INDEX guest_tokens_uid ON guest_tokens (guest_uid);

      -- Archives the agent knows as golden images: the only sources of an unsigned
      -- guest.provision. Built by the agent, or registered by a signed golden.register.
      CREATE TABLE golden_images (
        volid TEXT PRIMARY KEY,
        checksum TEXT,
        source TEXT NOT NULL CHECK (source IN ('built', 'registered')),
        journal_id INTEGER REFERENCES journal (id),
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    name: "hub job ledger",
    sql: `
      -- What the agent remembers about each hub job (src/store/README.md#hub-job-ledger). A
      -- result state is noted in the same commit that queues it in the outbox. reported lists
      -- the states queued, in order; a job reports pending_signature at most once, then at most
      -- one outcome, so the lists that can exist are exactly these (canonical JSON text).
      CREATE TABLE hub_jobs (
        job_id TEXT PRIMARY KEY CHECK (length(job_id) BETWEEN 1 AND 128),
        operation_id TEXT CHECK (operation_id IS NULL OR length(operation_id) BETWEEN 1 AND 256),
        signed INTEGER NOT NULL CHECK (signed IN (0, 1)),
        reported TEXT NOT NULL CHECK (reported IN (
          '[]', '["pending_signature"]',
          '["ok"]', '["failed"]', '["rejected"]',
          '["pending_signature","ok"]', '["pending_signature","failed"]',
          '["pending_signature","rejected"]'
        )),
        terminal INTEGER NOT NULL CHECK (terminal IN (0, 1)),
        updated_at INTEGER NOT NULL,
        -- Terminal exactly when an outcome (not pending_signature) was queued.
        CHECK (terminal = (reported NOT IN ('[]', '["pending_signature"]')))
      ) STRICT;
      CREATE INDEX hub_jobs_open ON hub_jobs (terminal, updated_at);
    `,
  },
  {
    name: "enrolled signers and operator requests",
    sql: `
      -- The operator signers this host accepted at enrollment, as later replaced by signed
      -- signers.rotate operations (src/store/README.md#enrolled-signers). The configured
      -- signers are not here: they are a floor no rotation touches. A row names the journal
      -- entry of the rotation that wrote it; rows imported from the enrollment file have none.
      CREATE TABLE enrolled_signers (
        fingerprint TEXT PRIMARY KEY CHECK (fingerprint GLOB 'SHA256:*' AND length(fingerprint) = 50),
        name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
        role TEXT NOT NULL CHECK (role IN ('operational', 'recovery')),
        public_key TEXT NOT NULL CHECK (length(public_key) BETWEEN 1 AND 512),
        expires_at TEXT,
        source TEXT NOT NULL CHECK (source IN ('enrollment', 'rotation')),
        journal_id INTEGER REFERENCES journal (id),
        added_at INTEGER NOT NULL
      ) STRICT;

      -- An operator's approval or decline of a held operation, asked on the host's command
      -- line and carried out by the daemon, the one process that runs operations
      -- (src/store/README.md#operator-requests).
      CREATE TABLE operator_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pending_id TEXT NOT NULL CHECK (length(pending_id) BETWEEN 1 AND 64),
        action TEXT NOT NULL CHECK (action IN ('approve', 'decline')),
        envelope TEXT CHECK (envelope IS NULL OR length(envelope) <= 65536),
        reason TEXT CHECK (reason IS NULL OR length(reason) <= 500),
        state TEXT NOT NULL CHECK (state IN ('waiting', 'done')),
        outcome TEXT,
        detail TEXT,
        operation_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((action = 'approve') = (envelope IS NOT NULL)),
        CHECK ((action = 'decline') = (reason IS NOT NULL)),
        CHECK ((state = 'done') = (outcome IS NOT NULL))
      ) STRICT;
      CREATE INDEX operator_requests_waiting ON operator_requests (id) WHERE state = 'waiting';
      `,
  },
  {
    name: "agent updates",
    sql: `
      -- One row per admitted agent.update: the signed params, the version it replaces, and
      -- the step reached, written after each step so start-up recovery resumes or rolls back
      -- (docs/self-update.md#steps-and-recovery). At most one attempt is open at a time.
      CREATE TABLE agent_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        journal_id INTEGER NOT NULL,
        version TEXT NOT NULL CHECK (length(version) BETWEEN 5 AND 100),
        from_version TEXT NOT NULL CHECK (length(from_version) BETWEEN 1 AND 100),
        target TEXT NOT NULL CHECK (target IN ('x64', 'x64-baseline')),
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        size INTEGER NOT NULL CHECK (size > 0),
        expires_at INTEGER NOT NULL,
        step TEXT NOT NULL CHECK (step IN (
          'admitted', 'downloaded', 'smoked', 'switched', 'started',
          'good', 'failed', 'rolled_back'
        )),
        reason TEXT CHECK (reason IS NULL OR length(reason) <= 2000),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        open INTEGER GENERATED ALWAYS AS (step NOT IN ('good', 'failed', 'rolled_back')) VIRTUAL
      ) STRICT;
      CREATE UNIQUE INDEX agent_updates_one_open ON agent_updates (open) WHERE open = 1;
      CREATE INDEX agent_updates_version ON agent_updates (version, step);
      `,
  },
  {
    name: "storage presence",
    sql: `
      -- The last seen state of each backup target (src/store/README.md#storage-presence):
      -- since is when present/active last changed, so a report says how long a disk has been
      -- gone, across restarts. One row per storage id; a transition rewrites it and appends
      -- one audit row in the same transaction.
      CREATE TABLE storage_presence (
        storage TEXT PRIMARY KEY CHECK (length(storage) BETWEEN 1 AND 64),
        present INTEGER NOT NULL CHECK (present IN (0, 1)),
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        reason TEXT CHECK (reason IS NULL OR length(reason) <= 512),
        since INTEGER NOT NULL,
        checked_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    name: "backup policy and history",
    sql: `
      -- The backup policy in force (src/store/README.md#backup-policy-and-history): the newest
      -- row rules. A desired-state policy is written only when it passes the floor and lowers
      -- nothing; anything else arrives as a signed backup.policy, journaled.
      CREATE TABLE backup_policies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        policy TEXT NOT NULL CHECK (length(policy) <= 262144),
        source TEXT NOT NULL CHECK (source IN ('desired', 'signed')),
        journal_id INTEGER,
        created_at INTEGER NOT NULL,
        CHECK (source <> 'signed' OR journal_id IS NOT NULL)
      ) STRICT;

      -- Backups per guest per tier: the agent's own runs (ok or failed) and archives seen in
      -- a storage's content listing (made by hand or before the agent). One row per archive.
      CREATE TABLE backup_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vmid INTEGER NOT NULL CHECK (vmid BETWEEN 100 AND 999999999),
        storage TEXT NOT NULL CHECK (length(storage) BETWEEN 1 AND 64),
        volid TEXT CHECK (volid IS NULL OR length(volid) <= 512),
        result TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'seen', 'removed')),
        started_at INTEGER,
        finished_at INTEGER NOT NULL,
        size INTEGER CHECK (size IS NULL OR size >= 0),
        reason TEXT CHECK (reason IS NULL OR length(reason) <= 2000),
        log_tail TEXT CHECK (log_tail IS NULL OR length(log_tail) <= 8192),
        journal_id INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX backup_history_volid ON backup_history (volid) WHERE volid IS NOT NULL;
      CREATE UNIQUE INDEX backup_history_journal ON backup_history (journal_id)
        WHERE journal_id IS NOT NULL;
      CREATE INDEX backup_history_guest ON backup_history (vmid, storage, finished_at);

      -- felhom-agent backup run: a backup asked on the command line, waiting for the daemon,
      -- which submits it to the engine and records what became of it.
      CREATE TABLE backup_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vmid INTEGER NOT NULL CHECK (vmid BETWEEN 100 AND 999999999),
        storage TEXT CHECK (storage IS NULL OR length(storage) BETWEEN 1 AND 64),
        state TEXT NOT NULL CHECK (state IN ('waiting', 'done')),
        outcome TEXT CHECK (outcome IS NULL OR length(outcome) <= 64),
        operation_id TEXT,
        detail TEXT CHECK (detail IS NULL OR length(detail) <= 1000),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((state = 'done') = (outcome IS NOT NULL))
      ) STRICT;
      CREATE INDEX backup_requests_waiting ON backup_requests (id) WHERE state = 'waiting';
      `,
  },
  {
    name: "health alerts",
    sql: `
      -- Open health alerts (src/store/README.md#health-alerts): one row per kind and subject
      -- while open; opening and closing each append one audit row in the same transaction.
      CREATE TABLE health_alerts (
        kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
        subject TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 256),
        severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
        since INTEGER NOT NULL,
        detail TEXT NOT NULL CHECK (length(detail) <= 512),
        PRIMARY KEY (kind, subject)
      ) STRICT, WITHOUT ROWID;
      -- Each collector's last result, for felhom-agent status (a cache the daemon rewrites).
      CREATE TABLE health_collections (
        collector TEXT PRIMARY KEY CHECK (length(collector) BETWEEN 1 AND 32),
        at INTEGER NOT NULL,
        body TEXT NOT NULL CHECK (json_valid(body) AND length(body) <= 262144)
      ) STRICT, WITHOUT ROWID;
      `,
  },
  {
    name: "bootstrap codes",
    sql: `
      -- One-time codes a newly provisioned guest trades for its local-API token
      -- (src/store/README.md#bootstrap-codes). Only the code's SHA-256 is kept; a code belongs
      -- to one guest identity and vmid. The step columns say how far the provisioning got, so
      -- a half-done one is visible and can be resumed. hub_credential is the controller's hub
      -- credential as the hub sealed it for the guest: relayed, never opened here.
      CREATE TABLE bootstrap_codes (
        id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 4 AND 64),
        code_hash BLOB NOT NULL UNIQUE CHECK (length(code_hash) = 32),
        vmid INTEGER NOT NULL CHECK (vmid BETWEEN 100 AND 999999999),
        guest_uid TEXT NOT NULL CHECK (length(guest_uid) BETWEEN 1 AND 128),
        journal_id INTEGER,
        hub_credential TEXT CHECK (hub_credential IS NULL OR length(hub_credential) <= 16384),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        env_set_at INTEGER,
        started_at INTEGER,
        redeemed_at INTEGER,
        env_removed_at INTEGER,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX bootstrap_codes_vmid ON bootstrap_codes (vmid, created_at);
    `,
  },
  {
    name: "schedule origin and backup history details",
    rebuildsTables: true,
    sql: `
      -- Scheduled backups are journaled with their own origin. A CHECK cannot be altered in
      -- place, so journal and pending_ops are rebuilt with the same columns, rows, AUTOINCREMENT
      -- counter and indexes (src/store/README.md#rebuilding-a-table). Other tables reference
      -- journal by name, and the name is the same afterwards.
      CREATE TABLE journal_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vmid INTEGER,
        op TEXT NOT NULL,
        params TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN (${ORIGINS_WITH_SCHEDULE})),
        job_id TEXT,
        phase TEXT NOT NULL CHECK (phase IN ('intent', 'posted', 'done', 'failed', 'abandoned')),
        upid TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
        provenance TEXT,
        resolution TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK (phase <> 'posted' OR upid IS NOT NULL)
      ) STRICT;
      INSERT INTO journal_new (id, vmid, op, params, origin, job_id, phase, upid, error, attempts,
          provenance, resolution, created_at, updated_at)
        SELECT id, vmid, op, params, origin, job_id, phase, upid, error, attempts,
          provenance, resolution, created_at, updated_at FROM journal;
      -- The counter survives even past deleted rows: an id is never handed out twice.
      DELETE FROM sqlite_sequence WHERE name = 'journal_new';
      INSERT INTO sqlite_sequence (name, seq)
        SELECT 'journal_new', seq FROM sqlite_sequence WHERE name = 'journal';
      DROP TABLE journal;
      ALTER TABLE journal_new RENAME TO journal;
      CREATE INDEX journal_in_flight ON journal (id) WHERE phase IN ('intent', 'posted');
      CREATE INDEX journal_vmid ON journal (vmid, id);
      CREATE INDEX journal_job ON journal (job_id, id) WHERE job_id IS NOT NULL;

      CREATE TABLE pending_ops_new (
        id TEXT PRIMARY KEY,
        op TEXT NOT NULL,
        vmid INTEGER,
        params TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN (${ORIGINS_WITH_SCHEDULE})),
        job_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'released', 'rejected', 'expired')),
        reason TEXT,
        resolution TEXT,
        journal_id INTEGER REFERENCES journal (id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      INSERT INTO pending_ops_new (id, op, vmid, params, origin, job_id, status, reason,
          resolution, journal_id, created_at, updated_at)
        SELECT id, op, vmid, params, origin, job_id, status, reason,
          resolution, journal_id, created_at, updated_at FROM pending_ops;
      DROP TABLE pending_ops;
      ALTER TABLE pending_ops_new RENAME TO pending_ops;
      CREATE UNIQUE INDEX pending_ops_job ON pending_ops (job_id) WHERE job_id IS NOT NULL;
      CREATE INDEX pending_ops_status ON pending_ops (status, created_at);

      -- What the schedule needs besides: the guest's config digest when a backup of it was
      -- taken while stopped (a stopped guest unchanged since is skipped, and when that was last
      -- found), whether the archive is protected, and when a backup was removed (its row stays,
      -- result 'removed', with the why).
      ALTER TABLE backup_history ADD COLUMN config_digest TEXT
        CHECK (config_digest IS NULL OR length(config_digest) <= 128);
      ALTER TABLE backup_history ADD COLUMN protected INTEGER NOT NULL DEFAULT 0
        CHECK (protected IN (0, 1));
      ALTER TABLE backup_history ADD COLUMN removed_at INTEGER;
      -- A stopped guest found unchanged since this backup: its period counts as covered.
      ALTER TABLE backup_history ADD COLUMN unchanged_at INTEGER;
    `,
  },
];

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function readUserVersion(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number } | null;
  return row?.user_version ?? 0;
}

export interface ApplyOptions {
  /** Stop after this version (tests build databases at every earlier version). */
  upTo?: number;
  /** The list to apply; MIGRATIONS unless a test needs another. */
  migrations?: readonly Migration[];
  /**
   * Runs inside the transaction that applies migration 1, so a new store never exists without
   * its initialization marker.
   */
  onCreate?: (db: Database) => void;
}

/**
 * Applies every migration above the file's `user_version`, each in its own IMMEDIATE
 * transaction together with its version bump: a crash between two steps leaves a consistent
 * database at the earlier version, and the next start continues from there.
 * Returns the versions applied.
 */
export function applyMigrations(db: Database, options: ApplyOptions = {}): number[] {
  const migrations = options.migrations ?? MIGRATIONS;
  const target = options.upTo ?? migrations.length;
  if (!Number.isInteger(target) || target < 0 || target > migrations.length) {
    throw new RangeError(`migration target ${target} is outside 0..${migrations.length}`);
  }
  const applied: number[] = [];
  for (;;) {
    const rebuilds = migrations[readUserVersion(db)]?.rebuildsTables === true;
    // foreign_keys is a no-op inside a transaction, so it is switched around it.
    const fkWasOn = rebuilds && foreignKeysOn(db);
    if (fkWasOn) db.run("PRAGMA foreign_keys = OFF");
    let step: number | undefined;
    try {
      step = db
        .transaction(() => {
          const current = readUserVersion(db);
          if (current >= target) return undefined;
          const next = current + 1;
          const migration = migrations[current];
          if (!migration) return undefined;
          db.run(migration.sql);
          if (migration.rebuildsTables === true) checkForeignKeys(db, migration.name);
          if (next === 1) options.onCreate?.(db);
          // PRAGMA takes no bound parameters; `next` is an integer computed here.
          db.run(`PRAGMA user_version = ${next}`);
          return next;
        })
        .immediate();
    } finally {
      if (fkWasOn) db.run("PRAGMA foreign_keys = ON");
    }
    if (step === undefined) return applied;
    applied.push(step);
  }
}

function foreignKeysOn(db: Database): boolean {
  const row = db.query("PRAGMA foreign_keys").get() as { foreign_keys: number } | null;
  return row?.foreign_keys === 1;
}

/** A rebuild that broke a reference rolls back rather than commit a dangling row. */
function checkForeignKeys(db: Database, name: string): void {
  const broken = db.query("PRAGMA foreign_key_check").all() as { table: string }[];
  if (broken.length > 0) {
    const tables = [...new Set(broken.map((r) => r.table))].join(", ");
    throw new Error(`migration "${name}" left broken references in ${tables}`);
  }
}

/** The marker that tells a store this agent initialized from a database that lost its rows. */
export function writeInitializationMarker(db: Database, now: number, storeId: string): void {
  const insert = db.query("INSERT INTO meta (key, value) VALUES ($key, $value)");
  insert.run({ key: "initialized_at", value: String(now) });
  insert.run({ key: "store_id", value: storeId });
}
