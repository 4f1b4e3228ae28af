import type { z } from "zod";
import type { OpOrigin } from "../ops/types.ts";
import {
  backupParams,
  destroyParams,
  emptyParams,
  guestConfigParams,
  provisionParams,
  resizeParams,
  restoreParams,
  rollbackParams,
  shutdownParams,
  snapshotCreateParams,
  snapshotDeleteParams,
  VOLUME_KEY,
} from "./param-rules.ts";
import type { AgentOrigin, ProvenanceFacts } from "./provenance.ts";

export type Verdict = "benign" | "destructive";

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
 * Benign or destructive, by what the operation does to customer data (docs/architecture.md#destructive-needs-a-signature) and by
 * provenance the journal recorded (`facts`), never by anything the requester says about
 * itself. Pure: the same action and facts always give the same answer.
 *
 * Destructive: destroy, restore over a guest, rollback, snapshot delete, volume or mount-point
 * removal, storage removal and addition, key rotation, agent update — and every operation or
 * parameter this table does not know.
 *
 * Benign: start, stop, shutdown, cores/memory/swap/description, snapshot create, disk growth
 * (`+N`), a backup that prunes nothing, provisioning a new guest without `force`; and
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
export function classify(action: ClassifiedAction, facts: ProvenanceFacts): Classification {
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
      return byParams(emptyParams, params, "run_state", "starting a guest changes no data");
    case "guest.stop":
      return byParams(emptyParams, params, "run_state", "stopping a guest changes no stored data");
    case "guest.shutdown":
      return byParams(
        shutdownParams,
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
      return byParams(resizeParams, params, "disk_grow", "growing a disk keeps every byte");
    }
    case "guest.snapshot":
      return byParams(
        snapshotCreateParams,
        params,
        "snapshot_create",
        "a new snapshot only adds a restore point",
      );
    case "guest.backup":
      if (params.remove === true) {
        return destructive("backup_prune", "'remove' prunes older backups by retention");
      }
      if (params.pruneBackups !== undefined && params.pruneBackups !== "keep-all=1") {
        return destructive("backup_prune", "a retention other than keep-all prunes older backups");
      }
      return byParams(backupParams, params, "backup_run", "a backup only adds a copy");
    case "guest.provision":
      if (params.force === true) {
        return destructive("restore_over", "'force' restores over an existing guest");
      }
      return byParams(
        provisionParams,
        params,
        "provision_new",
        "creates a new guest; PVE refuses an id that exists without 'force'",
      );
    case "guest.restore": {
      const problem = paramProblem(restoreParams, params);
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
      const problem = paramProblem(destroyParams, params);
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
      const problem = paramProblem(rollbackParams, params);
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
      const problem = paramProblem(snapshotDeleteParams, params);
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
    case "storage.remove":
      return destructive("storage_remove", "removing a storage cuts guests off their data");
    case "storage.add":
      return destructive("host_change", "host storage changes where customer data goes");
    case "signers.rotate":
      return destructive("host_change", "changing the signers changes who may destroy data");
    case "agent.update":
      return destructive("host_change", "a new agent binary can do anything");
    default:
      return destructive("unknown_op", `'${op}' is not a known operation: unknown is destructive`);
  }
}
