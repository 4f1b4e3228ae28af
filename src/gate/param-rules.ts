import { BACKUP_KEEP_ALL } from "../ops/params/guest-backup.ts";

/**
 * The gate's benign rules on top of each operation's one parameter shape (src/ops/params,
 * docs/architecture.md#one-schema-per-operation). The shape says what an operation can carry;
 * it is strict, so a key it does not list (a provenance claim such as `scratch`, a PVE option
 * smuggled in through `extra`) makes the operation unknown, and unknown is destructive. What
 * is here says which of the values the shape allows are also harmless to customer data; the
 * rules that need facts (provenance, golden images, bridges, grow bounds) are in classify.ts.
 */

// `rootfs`, `mp0` … `mp255`, `unused0` …: keys that hold or detach a volume (docs/proxmox-behaviour.md#api-schema-source).
export const VOLUME_KEY = /^(rootfs|mp\d{1,3}|unused\d{1,3})$/;

/**
 * Why a `guest.backup` prunes older backups, or undefined when it only adds a copy. `remove`
 * defaults to 1 in PVE and prunes by the effective retention, so the executor always sends
 * `remove=0` with `prune-backups=keep-all=1` (docs/proxmox-behaviour.md#vzdump-remove). A
 * caller may restate that pair, never change it: `remove: true` or any other retention deletes
 * older backups and is destructive. Judged on the raw params, before the shape, so a pruning
 * backup is named as one even when another key is wrong.
 */
export function backupPrune(params: Record<string, unknown>): string | undefined {
  if (params.remove === true) return "'remove' prunes older backups by retention";
  if (params.pruneBackups !== undefined && params.pruneBackups !== BACKUP_KEEP_ALL) {
    return "a retention other than keep-all prunes older backups";
  }
  return undefined;
}
