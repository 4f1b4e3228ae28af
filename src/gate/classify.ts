import type { z } from "zod";
import {
  backupPolicyParams,
  guestBackupDeleteParams,
  guestBackupProtectParams,
  guestBackupPruneParams,
} from "../ops/params/backup-policy.ts";
import { guestBackupParams } from "../ops/params/guest-backup.ts";
import { guestConfigParams } from "../ops/params/guest-config.ts";
import { guestDestroyParams } from "../ops/params/guest-destroy.ts";
import { guestProvisionParams, guestRestoreParams } from "../ops/params/guest-provision.ts";
import { guestResizeParams } from "../ops/params/guest-resize.ts";
import { guestShutdownParams, guestStartParams, guestStopParams } from "../ops/params/guest-run.ts";
import {
  guestRollbackParams,
  guestSnapshotDeleteParams,
  guestSnapshotParams,
} from "../ops/params/guest-snapshot.ts";
import { storageAddParams, storageRemoveParams } from "../ops/params/storage.ts";
import { tunnelConfigureParams } from "../ops/params/tunnel-configure.ts";
import type { OpOrigin } from "../ops/types.ts";
import { GIB, parseGrowth } from "./disk-size.ts";
import { type NetProblem, netProblem } from "./net-property.ts";
import { backupPrune, VOLUME_KEY } from "./param-rules.ts";
import type { AgentOrigin, ProvenanceFacts } from "./provenance.ts";

export type Verdict = "benign" | "destructive";

/** A vzdump archive the agent knows as a golden image (store `golden_images`). */
export interface GoldenImageFact {
  volid: string;
  source: "built" | "registered";
}

/**
 * What a growth is judged against: the guest's `max_disk_gib` from the desired state with the
 * disk's current size (read by the engine), or else a per-operation bound from the config.
 */
export type GrowBound =
  | { kind: "max_disk"; maxDiskGiB: number; currentBytes?: bigint }
  | { kind: "per_operation"; maxGrowGiB: number };

/** Without a configured bound, one unsigned grow adds at most this much (gate.max_grow_gib). */
export const DEFAULT_MAX_GROW_GIB = 64;
/** Without a configured list, a new guest joins only this bridge unsigned (gate.provision_bridges). */
export const DEFAULT_PROVISION_BRIDGES: readonly string[] = ["vmbr0"];

/**
 * Everything the classifier may know besides the action: journal provenance, and facts agent
 * code looked up for it (never request fields). Absent facts make nothing benign.
 */
export interface ActionFacts extends ProvenanceFacts {
  /** For `guest.provision`: the golden image named by `archive`, when the agent knows it. */
  goldenImage?: GoldenImageFact;
  /** For `guest.provision`: the bridges a new guest may join unsigned. */
  provisionBridges?: readonly string[];
  /** For `guest.resize`: the bound a growth must stay within. */
  grow?: GrowBound;
  /**
   * For `storage.add`: what Proxmox has under that storage id now, read by agent code: none,
   * this same target, or another one. Absent = unknown.
   */
  storage?: "absent" | "same" | "different";
}

/**
 * The classifier's answer. `rule` is a stable name for tests and audit rows; `reason` is a
 * sentence for the operator.
 */
export interface Classification {
  verdict: Verdict;
  rule: string;
  reason: string;
  /** The journal entry whose provenance made a removal benign. */
  provenanceJournalId?: number;
}

/** What is being classified: the action exactly as it would run. */
export interface ClassifiedAction {
  op: string;
  vmid?: number;
  params: unknown;
  /**
   * Who asks, as set by agent code (the local API sets `localapi` with the vmid of the
   * caller's token); never a field the requester sends.
   */
  origin?: OpOrigin;
}

const benign = (rule: string, reason: string, origin?: AgentOrigin): Classification => ({
  verdict: "benign",
  rule,
  reason,
  ...(origin ? { provenanceJournalId: origin.journalId } : {}),
});

const destructive = (rule: string, reason: string): Classification => ({
  verdict: "destructive",
  rule,
  reason,
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A param problem stated by key, so the audit row says which key made it unknown. */
function paramProblem(schema: z.ZodType, params: Record<string, unknown>): string | null {
  const parsed = schema.safeParse(params);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  if (issue?.code === "unrecognized_keys") {
    return `unknown parameter ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  }
  const where = issue?.path.length ? `'${issue.path.join(".")}'` : "params";
  return `parameter ${where}: ${issue?.message ?? "invalid"}`;
}

function volumeKeys(params: Record<string, unknown>): string[] {
  const named = Object.keys(params).filter((k) => VOLUME_KEY.test(k));
  const deleted = Array.isArray(params.delete)
    ? params.delete.filter((k): k is string => typeof k === "string" && VOLUME_KEY.test(k))
    : [];
  return [...named, ...deleted];
}

/**
 * Benign when the params fit `schema`; otherwise destructive because they are not understood.
 */
function byParams(
  schema: z.ZodType,
  params: Record<string, unknown>,
  rule: string,
  reason: string,
): Classification {
  const problem = paramProblem(schema, params);
  if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
  return benign(rule, reason);
}

/**
 * A removal is benign only for an object the journal proves the agent made: in the same
 * compound operation, or as its own scratch; `accept` says which proofs the rule takes.
 */
function ownedRemoval(
  origins: readonly (AgentOrigin | undefined)[],
  accept: (o: AgentOrigin) => boolean,
  rule: string,
  reason: string,
  fallback: Classification,
): Classification {
  const origin = origins.find((o) => o !== undefined && accept(o));
  return origin ? benign(rule, reason, origin) : fallback;
}

const sameTxnOrScratch = (o: AgentOrigin) => o.sameTransaction || o.scratch;

/**
 * The guest's own local-API snapshot, acted on by that guest through the local API. `facts`
 * are for `action.vmid`, so the snapshot belongs to the guest that asks.
 */
function ownGuestSnapshot(
  action: ClassifiedAction,
  facts: ProvenanceFacts,
): Classification | undefined {
  if (action.origin !== "localapi" || !facts.snapshot?.guestRequest) return undefined;
  return benign(
    "guest_own_snapshot",
    "the guest acts on a snapshot the agent took at that guest's own request",
    facts.snapshot,
  );
}

/**
 * A growth keeps every byte, but an unbounded one can fill the storage every guest shares and
 * push sizes past what the agent can read (2^53 bytes). The size is read exactly (bigint); one
 * that does not parse is destructive.
 */
function growth(size: string, bound: GrowBound | undefined): Classification {
  const bytes = parseGrowth(size);
  if (bytes === undefined) {
    return destructive("unparsable_resize", `'${size}' is not a size this agent reads exactly`);
  }
  const b = bound ?? { kind: "per_operation", maxGrowGiB: DEFAULT_MAX_GROW_GIB };
  if (b.kind === "per_operation") {
    if (bytes > BigInt(b.maxGrowGiB) * GIB) {
      return destructive(
        "grow_over_bound",
        `grows by more than ${b.maxGrowGiB} GiB in one operation (gate.max_grow_gib)`,
      );
    }
    return benign("disk_grow", `grows a disk by at most ${b.maxGrowGiB} GiB and keeps every byte`);
  }
  if (b.currentBytes === undefined) {
    return destructive(
      "grow_over_bound",
      "the disk's current size is unknown, so staying within max_disk_gib cannot be shown",
    );
  }
  if (b.currentBytes + bytes > BigInt(b.maxDiskGiB) * GIB) {
    return destructive(
      "grow_over_bound",
      `the disk would exceed the guest's max_disk_gib of ${b.maxDiskGiB} GiB`,
    );
  }
  return benign("disk_grow", `stays within the guest's max_disk_gib and keeps every byte`);
}

const NET_PROBLEM_RULE: Readonly<Record<NetProblem["kind"], string>> = {
  mac_given: "mac_given",
  bridge: "provision_bridge",
  unknown_key: "unknown_params",
  malformed: "unknown_params",
};

/**
 * A new guest is benign only as a fresh copy of the agent's own golden image: the archive is
 * one (anything else may be another customer's backup), unprivileged, with new MAC addresses
 * (`unique`, and no MAC given), on a permitted bridge, and never over an existing guest (no
 * `force`; PVE refuses an id in use, docs/proxmox-behaviour.md#restore-onto-an-existing-vmid).
 * The executor sends `unprivileged=1` and `unique=1` unless the params say otherwise.
 */
function provision(params: Record<string, unknown>, facts: ActionFacts): Classification {
  if (params.force === true) {
    return destructive("restore_over", "'force' restores over an existing guest");
  }
  const problem = paramProblem(guestProvisionParams, params);
  if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
  if (facts.goldenImage === undefined || facts.goldenImage.volid !== params.archive) {
    return destructive(
      "not_golden",
      "the archive is not a golden image the agent knows; it may be another guest's backup",
    );
  }
  if (params.unprivileged === false) {
    return destructive("privileged", "a privileged container is root on the host");
  }
  if (params.unique === false) {
    return destructive("not_unique", "without 'unique' the copy keeps the archive's MAC addresses");
  }
  const bridges = facts.provisionBridges ?? DEFAULT_PROVISION_BRIDGES;
  const net = (params.net ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(net)) {
    const bad = netProblem(value, bridges);
    if (bad) return destructive(NET_PROBLEM_RULE[bad.kind], `${key}: ${bad.detail}`);
  }
  return benign(
    "provision_golden",
    `a new unprivileged guest from the golden image ${facts.goldenImage.volid}`,
  );
}

/**
 * A new backup target on a disk attached to this host only adds a place backups may go. A
 * network target (NFS, CIFS, PBS) is a place off this host: every backup sent to it is a full
 * copy of customer data on a server the requester names, so adding one needs a signature
 * (docs/architecture.md#data-safety-rules). Re-stating a target Proxmox already has exactly so
 * changes nothing and stays benign. One over an id Proxmox has for another target changes where
 * existing backups are (an identity change).
 */
function storageAdd(params: Record<string, unknown>, facts: ActionFacts): Classification {
  const parsed = storageAddParams.safeParse(params);
  if (!parsed.success) {
    const problem = paramProblem(storageAddParams, params);
    return destructive("unknown_params", `${problem}: unknown is destructive`);
  }
  const target = parsed.data;
  switch (facts.storage) {
    case "absent":
      if (target.kind !== "usb") {
        return destructive(
          "storage_egress",
          `backups to it would copy customer data to ${target.server}, off this host`,
        );
      }
      return benign("storage_add", "a disk attached to this host only adds a place for backups");
    case "same":
      return benign("storage_present", "the target is already defined exactly so");
    case "different":
      return destructive(
        "storage_identity_change",
        "the storage id names another target: backups would go somewhere else",
      );
    default:
      return destructive(
        "storage_unknown",
        "what Proxmox has under this storage id could not be read: unknown is destructive",
      );
  }
}

/**
 * Benign or destructive, by what the operation does to customer data (docs/architecture.md#destructive-needs-a-signature) and by
 * provenance the journal recorded (`facts`), never by anything the requester says about
 * itself. Pure: the same action and facts always give the same answer.
 *
 * Destructive: destroy, restore over a guest, rollback, snapshot delete, volume or mount-point
 * removal, storage removal, a network backup target (NFS, CIFS, PBS) not already defined exactly
 * so, a storage added over another target's id, key rotation, agent update, golden image
 * registration
 * — and every operation or
 * parameter this table does not know.
 *
 * Benign (the full table, param by param, is src/gate/README.md): start, stop, shutdown,
 * cores/memory/swap/description, snapshot create, disk growth within its bound, a backup that
 * prunes nothing, a new unprivileged guest from a known golden image, a USB backup target
 * under an id Proxmox does not have, any target exactly as Proxmox already has it; and
 *  - destroy / restore of a guest the agent created in the same compound operation or as its
 *    scratch,
 *  - snapshot delete of a snapshot the agent created in the same compound operation or as its
 *    scratch (or on such a guest),
 *  - rollback only to a snapshot created in the same compound operation, or on a scratch guest.
 *    A rollback discards what was written since the snapshot, and that is the customer's even
 *    when the snapshot is the agent's;
 *  - except that a guest may roll back to, or delete, a snapshot the agent made at that same
 *    guest's own request through the local API (snapshot before a deploy, roll back
 *    when it fails). The guest's controller acts for the customer whose data it is; the same
 *    rollback asked by the hub or anyone else stays destructive, so a compromised hub cannot
 *    use a guest's snapshots to throw its data away.
 */
export function classify(action: ClassifiedAction, facts: ActionFacts): Classification {
  const { op } = action;
  if (!isPlainObject(action.params)) {
    return destructive("unknown_params", "params are not a plain object: unknown is destructive");
  }
  const params = action.params;
  const needsGuest = op.startsWith("guest.");
  if (needsGuest && action.vmid === undefined) {
    return destructive("no_guest", `${op} names no guest: unknown is destructive`);
  }

  switch (op) {
    case "guest.start":
      return byParams(guestStartParams, params, "run_state", "starting a guest changes no data");
    case "guest.stop":
      return byParams(
        guestStopParams,
        params,
        "run_state",
        "stopping a guest changes no stored data",
      );
    case "guest.shutdown":
      return byParams(
        guestShutdownParams,
        params,
        "run_state",
        "shutting a guest down changes no stored data",
      );
    case "guest.config": {
      const volumes = volumeKeys(params);
      if (volumes.length > 0) {
        return destructive(
          "volume_change",
          `changes or removes volume/mount point ${volumes.join(", ")}`,
        );
      }
      return byParams(
        guestConfigParams,
        params,
        "resources",
        "CPU, memory and description are undone by setting them back",
      );
    }
    case "guest.resize": {
      if (typeof params.size === "string" && !params.size.startsWith("+")) {
        return destructive(
          "absolute_resize",
          "an absolute size may shrink a disk; only growth ('+N') is benign",
        );
      }
      const problem = paramProblem(guestResizeParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return growth(String(params.size), facts.grow);
    }
    case "guest.snapshot":
      return byParams(
        guestSnapshotParams,
        params,
        "snapshot_create",
        "a new snapshot only adds a restore point",
      );
    case "guest.backup": {
      const prune = backupPrune(params);
      if (prune) return destructive("backup_prune", prune);
      return byParams(guestBackupParams, params, "backup_run", "a backup only adds a copy");
    }
    case "guest.provision":
      return provision(params, facts);
    case "guest.restore": {
      const problem = paramProblem(guestRestoreParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return ownedRemoval(
        [facts.guest],
        sameTxnOrScratch,
        "own_guest",
        "restores over a guest the agent itself created",
        destructive("restore_over", "a restore replaces the guest's data"),
      );
    }
    case "guest.destroy": {
      const problem = paramProblem(guestDestroyParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return ownedRemoval(
        [facts.guest],
        sameTxnOrScratch,
        "own_guest",
        "destroys a guest the agent itself created",
        destructive("destroy", "destroying a guest deletes its data"),
      );
    }
    case "guest.rollback": {
      const problem = paramProblem(guestRollbackParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      // The snapshot's scratch flag does not count here: what a rollback discards is the data
      // written after the snapshot, and that is the customer's. A guest made in the same
      // compound operation, or as scratch, holds nothing of the customer's.
      const own = ownGuestSnapshot(action, facts);
      if (own) return own;
      const snapshot = facts.snapshot?.sameTransaction ? facts.snapshot : undefined;
      return ownedRemoval(
        [snapshot, facts.guest],
        sameTxnOrScratch,
        "own_snapshot",
        "rolls back within the compound operation that took the snapshot, or on the agent's own guest",
        destructive("rollback", "a rollback discards everything written since the snapshot"),
      );
    }
    case "guest.snapshot.delete": {
      const problem = paramProblem(guestSnapshotDeleteParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      const own = ownGuestSnapshot(action, facts);
      if (own) return own;
      return ownedRemoval(
        [facts.snapshot, facts.guest],
        sameTxnOrScratch,
        "own_snapshot",
        "deletes a snapshot the agent itself created",
        destructive("snapshot_delete", "the customer may depend on this snapshot"),
      );
    }
    case "storage.remove": {
      const problem = paramProblem(storageRemoveParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return destructive("storage_remove", "removing a storage cuts guests off their backups");
    }
    case "storage.add":
      return storageAdd(params, facts);
    case "signers.rotate":
      return destructive("host_change", "changing the signers changes who may destroy data");
    case "tunnel.configure": {
      const problem = paramProblem(tunnelConfigureParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return destructive("tunnel_token", "a wrong tunnel token takes the customer's domain down");
    }
    case "agent.update":
      return destructive("host_change", "a new agent binary can do anything");
    case "golden.register":
      return destructive(
        "host_change",
        "a golden image may then be copied into new guests without a signature",
      );
    case "backup.policy": {
      // Only a policy the floor would hold back, or one that lowers retention, comes as this
      // operation; a compromised hub must not wipe history by policy (docs/reconcile.md#backup-retention-floor).
      const problem = paramProblem(backupPolicyParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return destructive("backup_policy", "a backup policy decides which backups are pruned");
    }
    case "guest.backup.prune": {
      const problem = paramProblem(guestBackupPruneParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      // Only the agent's own retention step, which checked PVE's marks against its floor
      // before asking, prunes unsigned (docs/reconcile.md#backup-retention-floor).
      if (action.origin === "schedule") {
        return benign("own_retention", "the agent's retention step, within its floor");
      }
      return destructive("backup_prune", "pruning removes restore points");
    }
    case "guest.backup.protect": {
      const problem = paramProblem(guestBackupProtectParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      // The agent's own retention step protects a tier's monthly point; from anyone else,
      // protecting is how a storage could be filled with backups no retention may remove
      // (docs/reconcile.md#protected-monthly-points).
      if (action.origin === "schedule") {
        return benign(
          "own_monthly_point",
          "the agent's retention step, protecting a monthly point",
        );
      }
      return destructive(
        "backup_protect",
        "protected backups outlive every retention and fill the storage",
      );
    }
    case "guest.backup.delete": {
      const problem = paramProblem(guestBackupDeleteParams, params);
      if (problem) return destructive("unknown_params", `${problem}: unknown is destructive`);
      return destructive("backup_delete", "deleting a backup takes a restore point away");
    }
    default:
      return destructive("unknown_op", `'${op}' is not a known operation: unknown is destructive`);
  }
}
