import type { RequestContext } from "../context.ts";
import { intParam, strParam } from "../context.ts";
import { fail } from "../errors.ts";
import { splitList } from "./common.ts";

/** The storage options the simulator models; the schema accepts many more. */
const MODELLED = new Set(["prune-backups", "max-protected-backups"]);
const NOT_OPTIONS = new Set(["storage", "digest", "delete"]);

/**
 * PUT /storage/{storage} (pve-storage `API2/Storage/Config.pm` update): `Datastore.Allocate` on
 * `/storage` (the route checks it); synchronous; every failure inside the storage.cfg lock is a
 * 500 prefixed `update storage failed: `. Returns `{storage, type}`.
 */
export function updateStorage(ctx: RequestContext): unknown {
  const { state } = ctx.core;
  const id = strParam(ctx, "storage") ?? "";
  const inLock = (message: string) => fail(`update storage failed: ${message}`);
  const digest = strParam(ctx, "digest");
  // assert_if_modified compares the whole file's digest.
  if (digest !== undefined && digest !== state.storageDigest()) {
    throw inLock("detected modified configuration - file changed by other user? Try again.");
  }
  const s = state.storages.get(id);
  if (s === undefined) throw inLock(`storage '${id}' does not exist`);
  const set = Object.keys(ctx.params).filter((k) => !NOT_OPTIONS.has(k));
  const remove = splitList(ctx.params.delete);
  for (const k of [...set, ...remove]) {
    if (!MODELLED.has(k)) throw fail(`the simulator does not model storage option '${k}'`);
  }
  for (const k of remove) {
    if (set.includes(k)) throw inLock(`cannot set and delete property '${k}' at the same time!`);
  }
  // The schema already checked the property string, and its verify sub the keep-all conflict.
  const prune = strParam(ctx, "prune-backups");
  if (remove.includes("prune-backups")) delete s.pruneBackups;
  if (remove.includes("max-protected-backups")) delete s.maxProtectedBackups;
  if (prune !== undefined) s.pruneBackups = prune;
  if (ctx.params["max-protected-backups"] !== undefined) {
    s.maxProtectedBackups = intParam(ctx, "max-protected-backups");
  }
  state.touch();
  return { storage: s.storage, type: s.type };
}
