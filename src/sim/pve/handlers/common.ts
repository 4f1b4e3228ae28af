import type { RequestContext } from "../context.ts";
import { intParam } from "../context.ts";
import { parsePropertyString } from "../ct-config.ts";
import { fail, missingCt, permError } from "../errors.ts";
import type { CtGuest } from "../state.ts";
import { flockTimeoutMessage } from "../tasks.ts";

export function requireGuest(ctx: RequestContext): CtGuest {
  const vmid = intParam(ctx, "vmid");
  const g = ctx.core.state.guests.get(vmid);
  if (g === undefined) throw missingCt(ctx.core.node, vmid);
  return g;
}

/** check_lock: `CT is locked (<lock>)` (docs/proxmox-behaviour.md#locks). */
export function lockMessage(g: CtGuest): string | undefined {
  const lock = g.config.lock;
  return lock === undefined ? undefined : `CT is locked (${lock})`;
}

export function assertUnlocked(g: CtGuest): void {
  const msg = lockMessage(g);
  if (msg !== undefined) throw fail(msg);
}

/**
 * lock_config in a synchronous endpoint: with the `lockwait` fault the 10 s flock times out and
 * the request answers 500 with the flock text (docs/proxmox-behaviour.md#locks).
 */
export async function withFlock(ctx: RequestContext, vmid: number): Promise<void> {
  if (!ctx.core.faults().lockWait.includes(vmid)) return;
  await ctx.core.clock.sleep(ctx.core.lockTimeoutMs);
  throw fail(flockTimeoutMessage(vmid));
}

/** Config params that are not config keys. */
export const NON_CONFIG = new Set([
  "node",
  "vmid",
  "delete",
  "revert",
  "digest",
  "skiplock",
  "current",
  "snapshot",
]);

/**
 * check_ct_modify_config_perm (docs/proxmox-behaviour.md#root-only-config-checks). It only ever lets the literal user
 * root@pam past the root-only options, and a root@pam API token is not that user, so every
 * caller of the simulator is held to it.
 */
export function checkCtModifyPerm(
  ctx: RequestContext,
  vmid: number,
  changes: Record<string, unknown>,
  deletes: readonly string[],
  current: Record<string, string | number>,
  unprivileged: boolean,
): void {
  const access = ctx.core.access;
  const vmPath = `/vms/${vmid}`;
  const keys = [...Object.keys(changes), ...deletes];
  for (const key of keys) {
    const value = changes[key];
    if (key === "rootfs" || /^mp\d+$/.test(key)) {
      access.check(ctx.who, vmPath, ["VM.Config.Disk"]);
      if (typeof value === "string") {
        const volume = parsePropertyString(value, "volume").get("volume") ?? "";
        if (volume.startsWith("/dev/")) {
          throw permError("mount point type device is only allowed for root@pam");
        }
        if (volume.startsWith("/")) {
          throw permError("mount point type bind is only allowed for root@pam");
        }
        const m = /^([a-zA-Z][a-zA-Z0-9\-_.]*):(\d+(?:\.\d+)?)$/.exec(volume);
        if (m) access.check(ctx.who, `/storage/${m[1]}`, ["Datastore.AllocateSpace"]);
      }
    } else if (/^dev\d+$/.test(key)) {
      throw permError("configuring device passthrough is only allowed for root@pam");
    } else if (key === "hookscript") {
      throw permError("changing the hookscript is only allowed for root@pam");
    } else if (key === "features") {
      if (!unprivileged) {
        throw permError(
          "changing feature flags for privileged container is only allowed for root@pam",
        );
      }
      const before = parsePropertyString(String(current.features ?? ""));
      const after = parsePropertyString(typeof value === "string" ? value : "");
      let nesting = false;
      for (const k of new Set([...before.keys(), ...after.keys()])) {
        const changed = (before.get(k) ?? "0") !== (after.get(k) ?? "0");
        if (!changed) continue;
        if (k === "nesting") nesting = true;
        else
          throw permError("changing feature flags (except nesting) is only allowed for root@pam");
      }
      if (nesting) access.check(ctx.who, vmPath, ["VM.Allocate"]);
    } else if (key === "memory" || key === "swap") {
      access.check(ctx.who, vmPath, ["VM.Config.Memory"]);
    } else if (key === "cores" || key === "cpulimit" || key === "cpuunits") {
      access.check(ctx.who, vmPath, ["VM.Config.CPU"]);
    } else if (
      key === "hostname" ||
      key === "nameserver" ||
      key === "searchdomain" ||
      /^net\d+$/.test(key)
    ) {
      access.check(ctx.who, vmPath, ["VM.Config.Network"]);
    } else {
      access.check(ctx.who, vmPath, ["VM.Config.Options"]);
    }
  }
}

/** `pve-configid-list`: keys separated by commas, semicolons or spaces. */
export function splitList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return String(v)
    .split(/[,;\s]+/)
    .filter((s) => s !== "");
}

export function copyConfig(c: Record<string, string | number>): Record<string, string | number> {
  return { ...c };
}

/** 32-bit FNV-1a, for a stable but unsorted "hash order" (docs/proxmox-behaviour.md#snapshots-and-descriptions). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
