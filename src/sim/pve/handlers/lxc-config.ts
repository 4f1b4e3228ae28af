import type { RequestContext } from "../context.ts";
import { boolParam, intParam, strParam } from "../context.ts";
import { configValue, isHotplug } from "../ct-config.ts";
import { storedDescription } from "../description.ts";
import { fail } from "../errors.ts";
import {
  assertUnlocked,
  checkCtModifyPerm,
  NON_CONFIG,
  requireGuest,
  splitList,
  withFlock,
} from "./common.ts";

/**
 * PUT /nodes/{node}/lxc/{vmid}/config: synchronous, returns null (docs/proxmox-behaviour.md#sync-and-async-endpoints). Runs under the
 * config flock; digest and lock checks answer 500 (docs/proxmox-behaviour.md#locks). On a running CT non-hotplug keys
 * go to pending.
 */
export async function putConfig(ctx: RequestContext): Promise<null> {
  const { core } = ctx;
  const vmid = intParam(ctx, "vmid");
  const g = requireGuest(ctx);
  const changes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx.params)) if (!NON_CONFIG.has(k)) changes[k] = v;
  const deletes = splitList(ctx.params.delete);
  const reverts = splitList(ctx.params.revert);
  if (Object.keys(changes).length === 0 && deletes.length === 0 && reverts.length === 0) {
    throw fail("no options specified");
  }
  for (const k of deletes) {
    if (k in changes) throw fail(`can't set option '${k}' - option is also in the delete list`);
  }
  checkCtModifyPerm(ctx, vmid, changes, deletes, g.config, g.config.unprivileged === 1);
  for (const [k, v] of Object.entries(changes)) {
    // Only the description is stored as comment lines; other values can't hold a newline (docs/proxmox-behaviour.md#snapshots-and-descriptions).
    if (k !== "description" && typeof v === "string" && v.includes("\n")) {
      throw fail(`detected invalid newline inside property '${k}'`);
    }
  }
  await withFlock(ctx, vmid);
  const digest = strParam(ctx, "digest");
  if (digest !== undefined && digest !== core.state.digest(g)) {
    throw fail("detected modified configuration - file changed by other user? Try again.");
  }
  if (!boolParam(ctx, "skiplock")) assertUnlocked(g);

  for (const k of reverts) {
    delete g.pending[k];
    g.pendingDelete.delete(k);
  }
  for (const k of deletes) {
    if (g.running && !isHotplug(k, g.config)) {
      delete g.pending[k];
      g.pendingDelete.add(k);
    } else {
      delete g.config[k];
      delete g.pending[k];
      g.pendingDelete.delete(k);
    }
  }
  for (const [k, raw] of Object.entries(changes)) {
    let value: string | number | undefined = configValue(k, raw);
    if (k === "description") value = storedDescription(String(raw));
    const target = g.running && !isHotplug(k, g.config) ? g.pending : g.config;
    g.pendingDelete.delete(k);
    if (target === g.config) delete g.pending[k];
    if (value === undefined) delete target[k];
    else target[k] = value;
  }
  core.state.touch();
  return null;
}
