import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log/types.ts";
import type { Clock } from "../util/clock.ts";
import { StoreError } from "./errors.ts";
import { readUserVersion, SCHEMA_VERSION } from "./migrations.ts";
import { moveAside } from "./move-aside.ts";
import { lockStore, openStore } from "./open.ts";

/** What a backup file (or the store it came from) holds, read without changing it. */
export interface StoreFileInfo {
  storeId: string;
  schemaVersion: number;
  initializedAt: number;
  journalEntries: number;
  auditRows: number;
  bytes: number;
}

/**
 * Writes a consistent copy of the live store to `outPath` with `VACUUM INTO` (one read
 * transaction, so it is a snapshot even while the daemon writes; src/store/README.md#backups).
 * The copy is written beside `outPath` under a temporary name, mode 0600, fsynced, checked,
 * and only then renamed into place; an existing `outPath` is never overwritten.
 */
export function backupStore(dbPath: string, outPath: string): StoreFileInfo {
  refuseExisting(outPath);
  // Side-command open: works next to the daemon, never creates or migrates a store.
  const store = openStore({ path: dbPath, exclusive: false, mustExist: true });
  try {
    return backupOpenStore(store.db, store.info.storeId, outPath);
  } finally {
    store.close();
  }
}

/**
 * The same copy through a handle the caller already has open (the daemon, which holds the
 * store's lock, before a self-update's switch: docs/self-update.md#the-state-copy-taken-before-the-switch).
 */
export function backupOpenStore(db: Database, storeId: string, outPath: string): StoreFileInfo {
  refuseExisting(outPath);
  const tmp = join(dirname(outPath), `.${basename(outPath)}.tmp-${randomBytes(6).toString("hex")}`);
  let renamed = false;
  try {
    // Created empty and private first: VACUUM INTO keeps an existing empty file's mode.
    closeSync(openSync(tmp, "wx", 0o600));
    db.query("VACUUM INTO $path").run({ path: tmp });
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const info = inspectStoreFile(tmp);
    if (info.storeId !== storeId) {
      throw new StoreError({
        kind: "corrupt",
        path: outPath,
        message: `the backup written does not read back as store ${storeId}`,
      });
    }
    renameSync(tmp, outPath);
    renamed = true;
    syncDir(dirname(outPath));
    return info;
  } finally {
    if (!renamed) rmSync(tmp, { force: true });
  }
}

function refuseExisting(outPath: string): void {
  if (existsSync(outPath)) {
    throw new StoreError({
      kind: "invalid_argument",
      path: outPath,
      message: `${outPath} already exists; a backup never overwrites a file, choose another name`,
    });
  }
}

/**
 * Checks that `path` is a felhom-agent store this build can use: an SQLite file that passes
 * `quick_check`, with our schema (not newer than this build) and its initialization marker.
 * Opens it read-only; never changes it.
 */
export function inspectStoreFile(path: string): StoreFileInfo {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (cause) {
    throw new StoreError({
      kind: "path",
      path,
      cause,
      message: `cannot read ${path}: ${(cause as Error).message}`,
    });
  }
  if (!st.isFile()) {
    throw new StoreError({ kind: "path", path, message: `${path} is not a regular file` });
  }
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true, strict: true });
    const check = (db.query("PRAGMA quick_check(5)").all() as { quick_check: string }[])
      .map((r) => r.quick_check)
      .filter((r) => r !== "ok");
    if (check.length > 0) {
      throw new StoreError({
        kind: "corrupt",
        path,
        message: `${path} fails its integrity check (${check.join("; ").slice(0, 300)})`,
      });
    }
    const version = readUserVersion(db);
    if (version > SCHEMA_VERSION) {
      throw new StoreError({
        kind: "newer_schema",
        path,
        foundVersion: version,
        knownVersion: SCHEMA_VERSION,
        message: `${path} has schema version ${version}, newer than this felhom-agent understands (${SCHEMA_VERSION}); restore it with a newer felhom-agent`,
      });
    }
    const meta = version === 0 ? [] : readMeta(db);
    const get = (key: string) => meta.find((m) => m.key === key)?.value;
    const storeId = get("store_id");
    const initializedAt = get("initialized_at");
    if (storeId === undefined || initializedAt === undefined) {
      throw new StoreError({
        kind: "foreign",
        path,
        message: `${path} is not a felhom-agent state database (no schema or no initialization marker)`,
      });
    }
    const open = db;
    const count = (table: string) =>
      (open.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return {
      storeId,
      schemaVersion: version,
      initializedAt: Number(initializedAt),
      journalEntries: count("journal"),
      auditRows: version >= 3 ? count("audit") : 0,
      bytes: st.size,
    };
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    const code = (cause as { code?: unknown }).code;
    throw new StoreError({
      kind: code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT" ? "corrupt" : "path",
      path,
      cause,
      message: `${path} is not a readable SQLite database (${String(code ?? (cause as Error).message)})`,
    });
  } finally {
    db?.close();
  }
}

export interface RestoreOptions {
  dbPath: string;
  from: string;
  clock: Clock;
  logger: Logger;
  /** When set, the backup must be of this store (the one an enrolled host runs on). */
  expectStoreId?: string;
}

export interface RestoreResult {
  info: StoreFileInfo;
  /** Where the replaced database now is; undefined when there was none. */
  keptAt: string | undefined;
}

/**
 * Puts a backup in place of the store: refused while a daemon holds the lock, or when the file
 * is not our store, has a newer schema, or (for an enrolled host) is another store. The current
 * database is kept aside (`state.db.before-restore-TIME`), never deleted. The restored store is
 * opened once (migrated when older) and the restore is audited in it.
 */
export function restoreStore(o: RestoreOptions): RestoreResult {
  const info = inspectStoreFile(o.from);
  if (o.expectStoreId !== undefined && info.storeId !== o.expectStoreId) {
    throw new StoreError({
      kind: "foreign",
      path: o.from,
      message: `${o.from} is a backup of store ${info.storeId}, but this enrolled host runs on store ${o.expectStoreId}; restore a backup of this host's own store (or start empty on purpose: felhom-agent run --new-state)`,
    });
  }
  const lock = lockStore(o.dbPath);
  let keptAt: string | undefined;
  const tmp = `${o.dbPath}.restore-tmp`;
  try {
    rmSync(tmp, { force: true });
    closeSync(openSync(tmp, "wx", 0o600));
    // Through SQLite, not a file copy: a file with a -wal beside it is read with its WAL.
    const src = new Database(o.from, { readonly: true, strict: true });
    try {
      src.query("VACUUM INTO $path").run({ path: tmp });
    } finally {
      src.close();
    }
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Only once the copy is complete and durable does the current database move aside.
    keptAt = moveAside(o.dbPath, "before-restore", o.clock.now());
    renameSync(tmp, o.dbPath);
    syncDir(dirname(o.dbPath));
  } catch (err) {
    rmSync(tmp, { force: true });
    lock.release();
    throw err;
  }
  const store = openStore({
    path: o.dbPath,
    clock: o.clock,
    logger: o.logger,
    mustExist: true,
    heldLock: lock,
  });
  try {
    store.audit.append({
      actor: "operator",
      action: "state.restore",
      target: null,
      outcome: "ok",
      details: {
        store_id: info.storeId,
        backup_bytes: info.bytes,
        ...(keptAt ? { replaced_kept_at: keptAt } : {}),
      },
    });
  } finally {
    store.close();
  }
  return { info, keptAt };
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The meta rows; none when the file has no meta table (then it is not our store). */
function readMeta(db: Database): { key: string; value: string }[] {
  try {
    return db.query("SELECT key, value FROM meta").all() as { key: string; value: string }[];
  } catch {
    return [];
  }
}
