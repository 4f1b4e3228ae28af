import { closeSync, fstatSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { type Flock, loadFlock } from "./flock.ts";

/**
 * The one-agent-per-database lock: an exclusive `flock` on the state directory itself, held on
 * an open descriptor for the life of the process. The kernel drops it when the process dies
 * however it dies (SIGKILL included), so there is never a stale lock. It is taken on the
 * directory, not on a file in it, so no unlink (of the database, of a lock file, of anything in
 * the directory) lets a second agent in beside a running one (src/store/README.md#one-agent).
 */
export interface ProcessLock {
  /** The directory locked. */
  readonly path: string;
  /** Device and inode of the directory locked, to compare with what is at `path` later. */
  readonly dev: number;
  readonly ino: number;
  release(): void;
}

/** The directory whose flock guards the database at `dbPath`. */
export function lockPathFor(dbPath: string): string {
  return dirname(dbPath);
}

/**
 * The lock, or undefined when another open descriptor (this process or another) holds it.
 * Other failures throw.
 */
export function tryAcquireLock(dbPath: string, flock?: Flock): ProcessLock | undefined {
  const path = lockPathFor(dbPath);
  const fd = openSync(path, "r");
  let taken = false;
  let lib: Flock | undefined;
  try {
    lib = flock ?? loadFlock();
    taken = lib.tryExclusive(fd);
  } finally {
    if (!taken) closeSync(fd);
    // Only the descriptor holds the lock; the library handle can go.
    if (flock === undefined) lib?.close();
  }
  if (!taken) return undefined;
  const st = fstatSync(fd);
  let held = true;
  return {
    path,
    dev: st.dev,
    ino: st.ino,
    release() {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}
