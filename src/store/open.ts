import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "../log/types.ts";
import { silentLogger } from "../log/types.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { diskFullError, isDiskFull, StoreError } from "./errors.ts";
import { isBusy, lockPathFor, type ProcessLock, tryAcquireLock } from "./lock.ts";
import {
  applyMigrations,
  readUserVersion,
  SCHEMA_VERSION,
  writeInitializationMarker,
} from "./migrations.ts";
import type { OutboxOptions } from "./outbox.ts";
import { Store, type StoreInfo } from "./store.ts";

export const STORE_FILE_NAME = "state.db";

/** `<state_dir>/state.db` */
export function defaultStorePath(stateDir: string): string {
  return join(stateDir, STORE_FILE_NAME);
}

export interface OpenStoreOptions {
  path: string;
  clock?: Clock;
  logger?: Logger;
  /**
   * True (the default) for the daemon: hold the agent lock until close, so a second agent on
   * the same database refuses to start. False for side commands (`token mint`, `audit`) that
   * run next to the daemon; they never migrate or create a database the daemon is using.
   */
  exclusive?: boolean;
  /**
   * Refuse (kind `missing`) instead of creating a new database. For callers that know a store
   * must already exist (an enrolled host): a wiped state dir is then an error, not a fresh start.
   */
  mustExist?: boolean;
  /**
   * The agent lock, already taken by the caller with tryAcquireLock (`run --new-state`,
   * `state restore` move files before opening). The store then owns it and releases it on close.
   */
  heldLock?: ProcessLock;
  /** How long a write waits for another connection's transaction; default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * How long an exclusive open waits for the agent lock before it reports the database in use;
   * default 0. A side command holds the lock only while it opens (src/store/README.md#one-agent),
   * so the daemon waits a moment rather than fail its start on such a glimpse.
   */
  lockWaitMs?: number;
  outbox?: OutboxOptions;
}

const LOCK_RETRY_MS = 25;

/** How long the daemon waits for a side command's brief hold of the agent lock at start-up. */
export const DAEMON_LOCK_WAIT_MS = 3000;

interface MetaRow {
  value: string;
}

/**
 * Opens (creating when allowed) the state database, checks it and brings its schema up to
 * date. Every way this can fail is a StoreError whose message says what to do; on failure
 * nothing stays open and no lock stays held.
 */
export function openStore(options: OpenStoreOptions): Store {
  const path = options.path;
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger).child({ store: path });
  const exclusive = options.exclusive ?? true;

  prepareDirectory(path);
  const lock = options.heldLock ?? acquireOrExplain(path, exclusive, options.lockWaitMs ?? 0);
  let db: Database | undefined;
  try {
    const existed = existsSync(path) && statSync(path).size > 0;
    if (!existed && options.mustExist) {
      throw new StoreError({
        kind: "missing",
        path,
        message: `state database ${path} does not exist or is empty, but this host has state that needs it; restore it from a backup rather than starting empty`,
      });
    }
    if (!existed && !lock) {
      throw new StoreError({
        kind: "missing",
        path,
        message: `state database ${path} does not exist while another felhom-agent holds its lock; check the state directory`,
      });
    }
    prepareFile(path, existed, logger);
    db = openDatabase(path);
    configure(db, path, options.busyTimeoutMs ?? 5000);
    checkIntegrity(db, path);

    const found = readUserVersion(db);
    if (found > SCHEMA_VERSION) {
      throw new StoreError({
        kind: "newer_schema",
        path,
        foundVersion: found,
        knownVersion: SCHEMA_VERSION,
        message: `state database ${path} has schema version ${found}, newer than this felhom-agent understands (${SCHEMA_VERSION}); upgrade felhom-agent`,
      });
    }
    if (found === 0 && options.mustExist) {
      // A non-empty file with no schema: typically state.db copied without its -wal file, which
      // held every committed page (src/store/README.md#backups).
      throw new StoreError({
        kind: "missing",
        path,
        message: `state database ${path} holds no felhom-agent state (was it copied without its -wal file?), but this host has state that needs it; restore it from a backup rather than starting empty`,
      });
    }
    if (found === 0 && hasTables(db)) {
      throw new StoreError({
        kind: "foreign",
        path,
        message: `${path} is an SQLite database but not a felhom-agent state database; move it away or point state_dir elsewhere`,
      });
    }
    if (found < SCHEMA_VERSION && !lock) {
      throw new StoreError({
        kind: "schema_behind",
        path,
        foundVersion: found,
        knownVersion: SCHEMA_VERSION,
        message: `state database ${path} has schema version ${found} and this felhom-agent needs ${SCHEMA_VERSION}; restart the running felhom-agent daemon (it migrates) and retry`,
      });
    }

    const migrated = applyMigrations(db, {
      onCreate: (d) => writeInitializationMarker(d, clock.now(), randomBytes(16).toString("hex")),
    });
    if (migrated.length > 0) {
      logger.info(found === 0 ? "state database created" : "state database migrated", {
        from: found,
        to: SCHEMA_VERSION,
      });
    }

    const initializedAt = readMeta(db, "initialized_at");
    const storeId = readMeta(db, "store_id");
    if (initializedAt === undefined || storeId === undefined) {
      throw new StoreError({
        kind: "not_initialized",
        path,
        message: `state database ${path} has lost its initialization marker, so rows were removed outside felhom-agent; restore it from a backup (acting on it could look like "no desired state")`,
      });
    }
    if (exclusive) {
      db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('holder', $value)").run({
        value: JSON.stringify({ pid: process.pid, since: clock.now() }),
      });
    } else {
      lock?.release();
    }

    const at = statSync(path);
    const info: StoreInfo = {
      path,
      file: { dev: at.dev, ino: at.ino },
      ...(exclusive && lock ? { lockDir: { path: lock.path, dev: lock.dev, ino: lock.ino } } : {}),
      created: found === 0,
      initializedAt: Number(initializedAt),
      storeId,
      schemaVersion: SCHEMA_VERSION,
      migrated,
      exclusive,
    };
    return new Store(db, info, clock, () => lock?.release(), options.outbox, {
      onQuarantine: (q) =>
        logger.error(`a ${q.table} row could not be read; it is quarantined and left out`, {
          table: q.table,
          id: q.id,
          reason: q.reason,
        }),
    });
  } catch (err) {
    db?.close();
    lock?.release();
    if (!(err instanceof StoreError) && isDiskFull(err, dirname(path))) {
      throw diskFullError(path, err);
    }
    if (err instanceof StoreError && err.kind === "path" && isDiskFull(err, dirname(path))) {
      throw diskFullError(path, err);
    }
    throw err;
  }
}

/**
 * Takes the agent lock for the database at `path` (creating its directory 0700 if missing)
 * without opening the database, for callers that must move files first (`run --new-state`,
 * `state restore`); hand it to openStore as `heldLock`. Throws StoreError `locked` (naming the
 * running daemon's pid when it can) or `path`.
 */
export function lockStore(path: string, lockWaitMs = 0): ProcessLock {
  prepareDirectory(path);
  const lock = acquireOrExplain(path, true, lockWaitMs);
  if (!lock) throw new Error("unreachable: an exclusive lock attempt returns a lock or throws");
  return lock;
}

function prepareDirectory(path: string): void {
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    if (existsSync(path) && !statSync(path).isFile())
      throw new Error(`${path} is not a regular file`);
  } catch (cause) {
    throw pathError(path, cause);
  }
}

function pathError(path: string, cause: unknown): StoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StoreError({
    kind: "path",
    path,
    cause,
    message: `cannot use state database ${path}: ${reason}; check state_dir and its permissions`,
  });
}

function acquireOrExplain(
  path: string,
  exclusive: boolean,
  waitMs: number,
): ProcessLock | undefined {
  const deadline = Date.now() + (exclusive ? waitMs : 0);
  let lock: ProcessLock | undefined;
  for (;;) {
    try {
      lock = tryAcquireLock(path);
    } catch (cause) {
      if (isDiskFull(cause, dirname(path))) throw diskFullError(path, cause);
      throw pathError(lockPathFor(path), cause);
    }
    if (lock || Date.now() >= deadline) break;
    // Opening is synchronous (bun:sqlite); the wait is short and happens once, at start-up.
    Bun.sleepSync(LOCK_RETRY_MS);
  }
  if (lock || !exclusive) return lock;
  const pid = readHolderPid(path);
  const who =
    pid === undefined
      ? "another felhom-agent process"
      : `another felhom-agent process (pid ${pid})`;
  throw new StoreError({
    kind: "locked",
    path,
    ...(pid === undefined ? {} : { holderPid: pid }),
    message: `state database ${path} is in use by ${who}; stop it before starting another`,
  });
}

/** Best effort: the pid the current holder wrote into the database, if it is still alive. */
function readHolderPid(path: string): number | undefined {
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true, strict: true });
    const row = db.query("SELECT value FROM meta WHERE key = 'holder'").get() as MetaRow | null;
    if (!row) return undefined;
    const pid = (JSON.parse(row.value) as { pid?: unknown }).pid;
    if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** Creates the file 0600 before SQLite sees it; makes an existing one (and its WAL) private. */
function prepareFile(path: string, existed: boolean, logger: Logger): void {
  try {
    if (!existsSync(path)) closeSync(openSync(path, "wx", 0o600));
  } catch (cause) {
    throw pathError(path, cause);
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) continue;
    try {
      chmodSync(file, 0o600);
    } catch (cause) {
      throw new StoreError({
        kind: "permissions",
        path: file,
        cause,
        message: `${file} is readable by other users (mode ${mode.toString(8)}) and could not be made 0600; fix its owner or mode`,
      });
    }
    if (existed) {
      logger.warn("state database file was readable by other users; made it 0600", {
        file,
        was: mode.toString(8),
      });
    }
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (cause) {
    throw pathError(path, cause);
  }
}

function openDatabase(path: string): Database {
  try {
    return new Database(path, { readwrite: true, create: false, strict: true });
  } catch (cause) {
    throw classifyOpenError(path, cause);
  }
}

function configure(db: Database, path: string, busyTimeoutMs: number): void {
  try {
    db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
    const mode = db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string } | null;
    if (mode?.journal_mode !== "wal") {
      throw new StoreError({
        kind: "path",
        path,
        message: `state database ${path} could not switch to WAL mode (got ${mode?.journal_mode}); is it on a filesystem without shared-memory support?`,
      });
    }
    // FULL: a commit is on disk (WAL fsynced) before it returns, so a journaled intent survives
    // a power cut, not only a process crash (docs/architecture.md#mutations-are-journaled).
    db.run("PRAGMA synchronous = FULL");
    db.run("PRAGMA foreign_keys = ON");
    // REPLACE's implicit delete fires delete triggers only with this on (audit append-only).
    db.run("PRAGMA recursive_triggers = ON");
  } catch (cause) {
    throw classifyOpenError(path, cause);
  }
}

function checkIntegrity(db: Database, path: string): void {
  let rows: { quick_check: string }[];
  try {
    rows = db.query("PRAGMA quick_check(5)").all() as { quick_check: string }[];
  } catch (cause) {
    throw classifyOpenError(path, cause);
  }
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
  if (problems.length > 0) {
    throw new StoreError({
      kind: "corrupt",
      path,
      message: `state database ${path} is corrupt (${problems.join("; ").slice(0, 300)}); restore it from a backup — starting from an empty database would lose the journal and the audit log`,
    });
  }
}

function classifyOpenError(path: string, cause: unknown): StoreError {
  if (cause instanceof StoreError) return cause;
  if (isDiskFull(cause, dirname(path))) return diskFullError(path, cause);
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") {
    return new StoreError({
      kind: "corrupt",
      path,
      cause,
      message: `${path} is not a readable SQLite database (${code}); restore it from a backup — starting from an empty database would lose the journal and the audit log`,
    });
  }
  if (isBusy(cause)) {
    return new StoreError({
      kind: "locked",
      path,
      cause,
      message: `state database ${path} stayed locked by another connection; retry, or stop the other process`,
    });
  }
  return pathError(path, cause);
}

function hasTables(db: Database): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() !== null;
}

function readMeta(db: Database, key: string): string | undefined {
  const row = db.query("SELECT value FROM meta WHERE key = $key").get({ key }) as MetaRow | null;
  return row?.value;
}
