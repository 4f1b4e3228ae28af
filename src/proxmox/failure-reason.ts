/**
 * What a Proxmox error text says, in a form callers can act on. The same texts appear as an
 * HTTP error message (synchronous checks) and as a task exitstatus (checks inside the worker),
 * depending on the endpoint (docs/proxmox-behaviour.md#api-envelope-and-errors, docs/proxmox-behaviour.md#locks), so one parser serves both.
 */

/** A missing privilege, from `Permission check failed (<path>, <priv>|<priv>…)` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export interface PermissionFailure {
  kind: "permission";
  /** ACL path the check ran on, e.g. `/vms/100`; absent for the bare form. */
  aclPath?: string;
  /** The privilege(s) named. With `anyOf`, holding any one of them would have passed. */
  privileges: string[];
  anyOf: boolean;
  /** The endpoint refuses API tokens altogether (`allowtoken: 0`), e.g. POST /access/ticket. */
  tokenNotAllowed: boolean;
}

/** `CT is locked (snapshot)` / `VM is locked (backup)` from check_lock (docs/proxmox-behaviour.md#locks). */
export interface ConfigLockFailure {
  kind: "locked";
  guestType: "CT" | "VM";
  /** The config `lock:` value: backup, create, snapshot, rollback, … */
  lock: string;
}

/** `can't lock file '<file>' - got timeout`: the 10 s config flock was busy (docs/proxmox-behaviour.md#locks). */
export interface LockTimeoutFailure {
  kind: "lock_timeout";
  file: string;
}

/** `Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
export interface MissingGuestFailure {
  kind: "missing_guest";
  file: string;
  vmid?: number;
}

export type FailureReason =
  | PermissionFailure
  | ConfigLockFailure
  | LockTimeoutFailure
  | MissingGuestFailure
  | { kind: "other" };

const PERM_PREFIX = "Permission check failed";
const PERM_DETAIL = /^Permission check failed \(([^,]+), ([^)\n]+)\)?/;
const TOKEN_NOT_ALLOWED = /^Permission check failed \(URI '[^']*' not available with API token/;
const CONFIG_LOCK = /^(CT|VM) is locked \((\w[\w-]*)\)/;
const LOCK_TIMEOUT = /^can't lock file '([^']+)' - got timeout/;
const MISSING_CONF = /^Configuration file '([^']+)' does not exist/;

export function parseFailureReason(text: string): FailureReason {
  const t = text.trim();
  if (t.startsWith(PERM_PREFIX)) {
    if (TOKEN_NOT_ALLOWED.test(t)) {
      return { kind: "permission", privileges: [], anyOf: false, tokenNotAllowed: true };
    }
    const m = PERM_DETAIL.exec(t);
    if (!m) return { kind: "permission", privileges: [], anyOf: false, tokenNotAllowed: false };
    const privText = (m[2] as string).trim();
    const privileges = privText.split("|").map((p) => p.trim());
    return {
      kind: "permission",
      aclPath: (m[1] as string).trim(),
      privileges,
      anyOf: privileges.length > 1,
      tokenNotAllowed: false,
    };
  }
  const lock = CONFIG_LOCK.exec(t);
  if (lock) return { kind: "locked", guestType: lock[1] as "CT" | "VM", lock: lock[2] as string };
  const timeout = LOCK_TIMEOUT.exec(t);
  if (timeout) return { kind: "lock_timeout", file: timeout[1] as string };
  const missing = MISSING_CONF.exec(t);
  if (missing) {
    const file = missing[1] as string;
    const vmid = /\/(\d+)\.conf$/.exec(file)?.[1];
    return vmid === undefined
      ? { kind: "missing_guest", file }
      : { kind: "missing_guest", file, vmid: Number(vmid) };
  }
  return { kind: "other" };
}

/** One readable sentence about a permission failure, for error messages. */
export function describePermission(p: PermissionFailure): string {
  if (p.tokenNotAllowed) return "this endpoint is not available to API tokens (needs a ticket)";
  if (p.privileges.length === 0) return "permission check failed (no privilege named)";
  const privs = p.anyOf ? `any of ${p.privileges.join(", ")}` : p.privileges.join(", ");
  return `missing privilege ${privs} on ${p.aclPath ?? "?"}`;
}
