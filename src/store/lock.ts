import { Database } from "bun:sqlite";
import { chmodSync } from "node:fs";

/**
 * The one-agent-per-database lock: a small SQLite file next to the database, held in
 * EXCLUSIVE locking mode for the life of the process. The kernel drops SQLite's POSIX locks
 * when the process dies however it dies (SIGKILL included), so a crash never leaves a stale
 * lock behind, and SQLite's own bookkeeping makes a second connection in the same process
 * conflict too.
 */
export interface ProcessLock {
  readonly path: string;
  release(): void;
}

export function lockPathFor(dbPath: string): string {
  return `${dbPath}.lock`;
}

/** The lock, or undefined when another connection holds it. Other failures throw. */
export function tryAcquireLock(dbPath: string): ProcessLock | undefined {
  const path = lockPathFor(dbPath);
  // Never open the lock file with a plain fd: closing any fd of a file drops every POSIX lock
  // this process holds on it, which would silently release a lock held by another connection.
  const db = new Database(path, { create: true, strict: true });
  chmodSync(path, 0o600);
  try {
    db.run("PRAGMA busy_timeout = 0");
    db.run("PRAGMA locking_mode = EXCLUSIVE");
    db.run("BEGIN EXCLUSIVE");
    db.run(
      "CREATE TABLE IF NOT EXISTS lock (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL)",
    );
    db.query("INSERT OR REPLACE INTO lock (id, pid) VALUES (1, $pid)").run({ pid: process.pid });
    db.run("COMMIT");
  } catch (err) {
    db.close();
    if (isBusy(err)) return undefined;
    throw err;
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}
