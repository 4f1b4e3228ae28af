import { statfsSync } from "node:fs";
import { CanonicalJsonError, canonicalJson } from "../util/canonical-json.ts";

/**
 * What went wrong with the state database, in terms of what the operator or caller does next:
 * - `locked`: another felhom-agent process holds the database; stop it (see `holderPid`).
 * - `corrupt`: the file is not a database or fails its integrity check; restore it from a
 *   backup, never start from an empty one in its place.
 * - `newer_schema`: written by a newer felhom-agent; upgrade the agent.
 * - `schema_behind`: an older schema while the daemon holds the database; restart the daemon
 *   (it migrates) before using this command.
 * - `foreign`: the file holds tables that are not a felhom-agent store.
 * - `not_initialized`: the schema is there but the initialization marker is gone, so rows were
 *   removed outside the agent; acting on it would look like "no desired state".
 * - `missing`: the caller expected an existing store and there is none.
 * - `path`: the path cannot be created, read or written.
 * - `disk_full`: the filesystem of the state directory has no space left (ENOSPC, SQLITE_FULL);
 *   free space there, nothing else is wrong.
 * - `replaced`: the database file or the state directory at its path is no longer the one this
 *   process opened (deleted, moved or replaced under a running daemon); stop and investigate.
 * - `permissions`: the file is readable by others and could not be made private.
 * - `invalid_argument`: a caller passed a value the store refuses; nothing was written.
 * - `invalid_transition`: a journal or pending-operation change not allowed from its phase.
 * - `not_found`: the row named by id does not exist.
 */
export type StoreErrorKind =
  | "locked"
  | "corrupt"
  | "newer_schema"
  | "schema_behind"
  | "foreign"
  | "not_initialized"
  | "missing"
  | "path"
  | "disk_full"
  | "replaced"
  | "permissions"
  | "invalid_argument"
  | "invalid_transition"
  | "not_found";

export interface StoreErrorInit {
  kind: StoreErrorKind;
  message: string;
  /** The database file involved, when there is one. */
  path?: string;
  /** For `locked`: the process holding the database, when it could be learned. */
  holderPid?: number;
  /** For `newer_schema` / `schema_behind`: the version found in the file. */
  foundVersion?: number;
  /** For `newer_schema` / `schema_behind`: the latest version this build knows. */
  knownVersion?: number;
  cause?: unknown;
}

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly kind: StoreErrorKind;
  readonly path: string | undefined;
  readonly holderPid: number | undefined;
  readonly foundVersion: number | undefined;
  readonly knownVersion: number | undefined;

  constructor(init: StoreErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.path = init.path;
    this.holderPid = init.holderPid;
    this.foundVersion = init.foundVersion;
    this.knownVersion = init.knownVersion;
  }
}

export function invalidArgument(message: string): StoreError {
  return new StoreError({ kind: "invalid_argument", message });
}

/**
 * ENOSPC from the filesystem or SQLite's SQLITE_FULL; or, when `dir` is given, any SQLite I/O
 * error while that filesystem has less than `FULL_BELOW_BYTES` available: a full disk reaches
 * SQLite as SQLITE_IOERR_SHMSIZE or SQLITE_IOERR_WRITE as often as SQLITE_FULL
 * (src/store/README.md#a-full-disk).
 */
export function isDiskFull(err: unknown, dir?: string): boolean {
  let ioError = false;
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "SQLITE_FULL") return true;
    if (typeof code === "string" && code.startsWith("SQLITE_IOERR")) ioError = true;
    e = (e as { cause?: unknown }).cause;
  }
  return ioError && dir !== undefined && availableBytes(dir) < FULL_BELOW_BYTES;
}

/** Less than this free on the state filesystem, and an I/O error is read as a full disk. */
export const FULL_BELOW_BYTES = 1024 * 1024;

function availableBytes(dir: string): number {
  try {
    const st = statfsSync(dir);
    return Number(st.bavail) * Number(st.bsize);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** A disk-full failure on `path` as the StoreError that says so. */
export function diskFullError(path: string, cause: unknown): StoreError {
  return new StoreError({
    kind: "disk_full",
    path,
    cause,
    message: `the disk holding ${path} is full; free space on that filesystem and start again (nothing is wrong with the state database itself)`,
  });
}

/**
 * The canonical JSON (src/util/canonical-json.ts) of a value a caller handed the store; a value
 * JSON cannot hold is the caller's mistake, so it is an `invalid_argument` and nothing is written.
 */
export function canonicalJsonArgument(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw invalidArgument(e.message);
    throw e;
  }
}
