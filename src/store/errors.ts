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
