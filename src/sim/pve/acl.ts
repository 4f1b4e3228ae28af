import { permError } from "./errors.ts";
import type { PveSeed } from "./seed.ts";

/** Privileges of PVE 9 (pveum.adoc); root@pam holds them all. */
export const ALL_PRIVILEGES: readonly string[] = [
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "Datastore.Audit",
  "Group.Allocate",
  "Mapping.Audit",
  "Mapping.Modify",
  "Mapping.Use",
  "Permissions.Modify",
  "Pool.Allocate",
  "Pool.Audit",
  "Realm.Allocate",
  "Realm.AllocateUser",
  "SDN.Allocate",
  "SDN.Audit",
  "SDN.Use",
  "Sys.AccessNetwork",
  "Sys.Audit",
  "Sys.Console",
  "Sys.Incoming",
  "Sys.Modify",
  "Sys.PowerMgmt",
  "Sys.Syslog",
  "User.Modify",
  "VM.Allocate",
  "VM.Audit",
  "VM.Backup",
  "VM.Clone",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.Console",
  "VM.GuestAgent.Audit",
  "VM.GuestAgent.FileRead",
  "VM.GuestAgent.FileSystemMgmt",
  "VM.GuestAgent.FileWrite",
  "VM.GuestAgent.Unrestricted",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.Replicate",
  "VM.Snapshot",
  "VM.Snapshot.Rollback",
];

const BUILTIN_ROLES: Record<string, readonly string[]> = {
  Administrator: ALL_PRIVILEGES,
  NoAccess: [],
  PVEAuditor: [
    "Datastore.Audit",
    "Mapping.Audit",
    "Pool.Audit",
    "SDN.Audit",
    "Sys.Audit",
    "VM.Audit",
    "VM.GuestAgent.Audit",
  ],
};

/** Who is calling: a user, or a user's API token (the rpcenv user is then the token id). */
export interface Principal {
  userid: string;
  tokenid?: string;
  /** `user@realm` or `user@realm!tokenid`: what goes into a UPID (docs/proxmox-behaviour.md#upid-format). */
  fullid: string;
}

export interface AclEntry {
  path: string;
  ugid: string;
  roleid: string;
  propagate: boolean;
}

export interface SimToken {
  key: string;
  userid: string;
  tokenid: string;
  privsep: boolean;
  secret: string;
}

/**
 * Users, tokens, roles and ACL entries, with PVE's permission rules: the most specific path
 * with entries for the subject wins, non-propagating entries apply to their own path only, and
 * a privilege-separated token gets the intersection of its own and its owner's privileges
 * (docs/proxmox-behaviour.md#api-tokens).
 */
export class AccessModel {
  readonly users = new Map<string, { enable: boolean }>();
  readonly tokens = new Map<string, SimToken>();
  readonly roles = new Map<string, ReadonlySet<string>>();
  acl: AclEntry[] = [];
  private cache = new Map<string, ReadonlySet<string>>();
  private readonly all: ReadonlySet<string> = new Set(ALL_PRIVILEGES);

  static fromSeed(access: PveSeed["access"], newSecret: () => string): AccessModel {
    const m = new AccessModel();
    m.users.set("root@pam", { enable: true });
    for (const u of access.users) m.users.set(u.userid, { enable: u.enable ?? true });
    for (const [name, privs] of Object.entries(BUILTIN_ROLES)) m.roles.set(name, new Set(privs));
    for (const [name, privs] of Object.entries(access.roles)) m.roles.set(name, new Set(privs));
    for (const t of access.tokens) {
      m.tokens.set(`${t.userid}!${t.tokenid}`, { ...t, secret: t.secret ?? newSecret() });
    }
    m.acl = access.acl.map((a) => ({ ...a, propagate: a.propagate ?? true }));
    return m;
  }

  /** Call after changing users, tokens, roles or acl in place. */
  changed(): void {
    this.cache.clear();
  }

  /** Effective privileges of `who` on `path`. */
  privileges(who: Principal, path: string): ReadonlySet<string> {
    const key = `${who.fullid}\0${path}`;
    let privs = this.cache.get(key);
    if (privs === undefined) {
      privs = this.compute(who, path);
      this.cache.set(key, privs);
    }
    return privs;
  }

  has(who: Principal, path: string, priv: string): boolean {
    return this.privileges(who, path).has(priv);
  }

  /** `check()`: 403 naming the first missing privilege (docs/proxmox-behaviour.md#api-envelope-and-errors). */
  check(who: Principal, path: string, privs: readonly string[]): void {
    const have = this.privileges(who, path);
    for (const p of privs) if (!have.has(p)) throw permError(`${path}, ${p}`);
  }

  /** `check_any()`: 403 naming all of them joined with `|` (docs/proxmox-behaviour.md#api-envelope-and-errors). */
  checkAny(who: Principal, path: string, privs: readonly string[]): void {
    const have = this.privileges(who, path);
    if (!privs.some((p) => have.has(p))) throw permError(`${path}, ${privs.join("|")}`);
  }

  /** Paths that appear in the ACL tree for this subject, plus the top-level ones. */
  knownPaths(who: Principal): string[] {
    const paths = new Set(["/", "/access", "/nodes", "/pool", "/sdn", "/storage", "/vms"]);
    for (const a of this.acl) {
      if (a.ugid === who.userid || a.ugid === who.fullid) paths.add(a.path);
    }
    return [...paths].sort();
  }

  private compute(who: Principal, path: string): ReadonlySet<string> {
    if (who.tokenid === undefined) return this.subjectPrivs(who.userid, path);
    const token = this.tokens.get(who.fullid);
    if (token === undefined) return new Set();
    if (!token.privsep) return this.subjectPrivs(who.userid, path);
    const own = this.subjectPrivs(who.fullid, path);
    // root@pam's tokens skip the intersection: root has everything (docs/proxmox-behaviour.md#api-tokens).
    if (who.userid === "root@pam") return own;
    const owner = this.subjectPrivs(who.userid, path);
    return new Set([...own].filter((p) => owner.has(p)));
  }

  private subjectPrivs(ugid: string, path: string): ReadonlySet<string> {
    if (ugid === "root@pam") return this.all;
    const parts = path.split("/").filter((s) => s !== "");
    let result: Set<string> = new Set();
    for (let depth = 0; depth <= parts.length; depth++) {
      const prefix = `/${parts.slice(0, depth).join("/")}`;
      const exact = depth === parts.length;
      let found = false;
      const here = new Set<string>();
      for (const a of this.acl) {
        if (a.path !== prefix || a.ugid !== ugid) continue;
        if (!exact && !a.propagate) continue;
        found = true;
        for (const p of this.roles.get(a.roleid) ?? []) here.add(p);
      }
      if (found) result = here;
    }
    return result;
  }
}
