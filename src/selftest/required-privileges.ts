/**
 * The privileges the agent's token needs on `/`: the FelhomAgent role validated on a real host
 * (README.md#2-create-the-proxmox-api-token). `VM.Config.CPUMemory` is not a real privilege; SDN.Use
 * is needed to attach guests to a bridge.
 */
export const REQUIRED_PRIVILEGES = [
  "VM.Allocate",
  "VM.Audit",
  "VM.Config.Disk",
  "VM.Config.CPU",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.PowerMgmt",
  "VM.Snapshot",
  "VM.Snapshot.Rollback",
  "VM.Backup",
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.Audit",
  "Sys.Audit",
  "SDN.Use",
] as const;

export type RequiredPrivilege = (typeof REQUIRED_PRIVILEGES)[number];

export const AGENT_ROLE = "FelhomAgent";

export interface PrivilegeVerdict {
  path: string;
  granted: RequiredPrivilege[];
  missing: RequiredPrivilege[];
  /** `pveum` lines that grant what is missing; empty when nothing is. */
  fix: string[];
}

/**
 * Compares what `GET /access/permissions` reports for `path` with the required set. For a
 * privilege-separated token PVE reports the intersection of the user's and the token's ACLs
 * (docs/proxmox-behaviour.md#api-tokens), so a missing privilege can come from either side: the fix grants the role
 * to both, which is harmless when one of them already has it.
 */
export function evaluatePrivileges(
  permissions: Record<string, Record<string, unknown>>,
  tokenId: string,
  path = "/",
  required: readonly RequiredPrivilege[] = REQUIRED_PRIVILEGES,
): PrivilegeVerdict {
  const at = permissions[path] ?? {};
  const has = (p: string) => at[p] === 1 || at[p] === true || at[p] === "1";
  const granted = required.filter(has);
  const missing = required.filter((p) => !has(p));
  const user = tokenId.includes("!") ? tokenId.slice(0, tokenId.indexOf("!")) : tokenId;
  const fix =
    missing.length === 0
      ? []
      : [
          `pveum role modify ${AGENT_ROLE} -append 1 -privs "${missing.join(" ")}"`,
          `pveum acl modify ${path} -user '${user}' -role ${AGENT_ROLE}`,
          ...(tokenId.includes("!")
            ? [`pveum acl modify ${path} -token '${tokenId}' -role ${AGENT_ROLE}`]
            : []),
        ];
  return { path, granted, missing, fix };
}

/**
 * What every backup needs on its target storage: `Datastore.AllocateSpace` to write the archive,
 * and `Datastore.Allocate` because the agent passes `prune-backups=keep-all=1` so that a backup
 * never prunes (docs/proxmox-behaviour.md#vzdump-remove). An ACL on a single storage can take
 * away what the role grants on `/`, so each backup storage is checked on its own path.
 */
export const BACKUP_STORAGE_PRIVILEGES = [
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
] as const satisfies readonly RequiredPrivilege[];

export function evaluateBackupStorage(
  permissions: Record<string, Record<string, unknown>>,
  tokenId: string,
  storage: string,
): PrivilegeVerdict {
  return evaluatePrivileges(permissions, tokenId, `/storage/${storage}`, BACKUP_STORAGE_PRIVILEGES);
}
