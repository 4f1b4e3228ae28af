import type { StorageTarget } from "../ops/params/storage-target.ts";
import { usbMountpoint } from "../ops/params/storage-target.ts";
import type { OperationRequest, OperationStatus } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { MountProbe } from "../proxmox/mount-probe.ts";
import type { StorageConfigEntry } from "../proxmox/schema-storage.ts";
import type { Journal } from "../store/journal.ts";
import type { StoragePresence } from "../store/storage-presence.ts";
import type { RetryPolicy } from "../util/backoff.ts";
import type { DesiredHostState } from "./desired-state.ts";
import type { Engine } from "./engine.ts";
import { retryVerdict } from "./retry-book.ts";
import { attachedUsbUuid, sameTarget } from "./storage-executors.ts";
import { checkTargets } from "./storage-presence.ts";

/** Why a target was not acted on this pass (reported; nothing is changed for it). */
export interface StorageSkip {
  id: string;
  why: string;
}

export interface StoragePlan {
  add: { id: string; target: StorageTarget }[];
  skipped: StorageSkip[];
}

/**
 * What the manifest asks of Proxmox's storage configuration, by id: a target that is not
 * defined is added; one that is defined as the same target is left alone (re-applying the
 * manifest changes nothing); one defined as another target is an identity change, which only a
 * signed `storage.remove` may start, so it is reported and not acted on. Storages the manifest
 * does not name are never touched (absence never removes). A USB target whose disk is not
 * attached waits: its add would only fail at the mount.
 */
export function planStorage(
  targets: ReadonlyMap<string, StorageTarget>,
  configured: readonly StorageConfigEntry[],
  attached: ReadonlyMap<string, boolean>,
  /** The UUID each USB target id was attached with (the journal's last done storage.add). */
  attachedUuids: ReadonlyMap<string, string> = new Map(),
): StoragePlan {
  const byId = new Map(configured.map((c) => [c.storage, c]));
  const plan: StoragePlan = { add: [], skipped: [] };
  for (const [id, target] of targets) {
    const have = byId.get(id);
    if (have !== undefined) {
      if (!sameTarget(id, target, have, attachedUuids.get(id))) {
        plan.skipped.push({
          id,
          why: "defined in Proxmox as another target; a signed storage.remove must come first",
        });
      }
      continue;
    }
    if (target.kind === "usb" && attached.get(id) === false) {
      plan.skipped.push({ id, why: `USB disk ${target.fs_uuid} not attached` });
      continue;
    }
    plan.add.push({ id, target });
  }
  return plan;
}

export interface StoragePassOptions {
  client: Pick<ProxmoxClient, "listStorage" | "nodeStorage">;
  mounts?: MountProbe;
  /**
   * Records presence transitions after the pass (one audit row each). The daemon sets it on a
   * host that is not enrolled, where no report cycle looks at the targets.
   */
  presence?: Pick<StoragePresence, "observe" | "get">;
  retry: RetryPolicy;
  now: () => number;
}

/** Host operations have no guest; their retry history is the journal's host-level entries. */
function hostJournal(journal: Pick<Journal, "forHost">): Pick<Journal, "forGuest"> {
  return { forGuest: (_vmid, limit = 100) => journal.forHost(limit) };
}

/**
 * One reconcile pass over the backup targets: plan, then submit each add through the engine
 * (gated, journaled, on the host lane), with the same retry book as guest actions.
 */
export async function runStoragePass(
  engine: Engine,
  desired: DesiredHostState | undefined,
  o: StoragePassOptions,
): Promise<{ plan: StoragePlan; results: OperationStatus[] }> {
  const targets = desired?.storageTargets;
  if (targets === undefined || targets.size === 0)
    return { plan: { add: [], skipped: [] }, results: [] };
  const configured = await o.client.listStorage();
  const attached = new Map<string, boolean>();
  for (const [id, t] of targets) {
    if (t.kind === "usb" && o.mounts) {
      attached.set(id, (await o.mounts.usb(t.fs_uuid, usbMountpoint(id))).attached);
    }
  }
  const uuids = new Map<string, string>();
  for (const [id, t] of targets) {
    const uuid = t.kind === "usb" ? attachedUsbUuid(engine.journal, id) : undefined;
    if (uuid !== undefined) uuids.set(id, uuid);
  }
  const plan = planStorage(targets, configured, attached, uuids);
  const settled: Promise<OperationStatus>[] = [];
  for (const { id, target } of plan.add) {
    if (engine.stopped) break;
    const params = { id, ...target };
    // A network target waits for an operator's signature (src/gate/README.md): once held, the
    // pass reports it instead of asking again.
    const held = engine.heldAs({ op: "storage.add", params, origin: "reconcile" });
    if (held !== undefined) {
      plan.skipped.push({ id, why: `held for an operator's signature as ${held}` });
      continue;
    }
    const verdict = retryVerdict(
      hostJournal(engine.journal),
      0,
      "storage.add",
      params,
      o.now(),
      o.retry,
      desired?.receivedAt ?? 0,
    );
    if (verdict.kind !== "go") {
      plan.skipped.push({
        id,
        why:
          verdict.kind === "gave_up"
            ? `given up: ${verdict.reason}`
            : "backing off after a failure",
      });
      continue;
    }
    const req: OperationRequest = {
      op: "storage.add",
      params,
      origin: "reconcile",
      priority: "background",
    };
    settled.push((await engine.enqueue(req, verdict.attempt)).settled);
  }
  const results = await Promise.all(settled);
  if (o.presence !== undefined) {
    await checkTargets({
      client: o.client,
      targets,
      presence: o.presence,
      ...(o.mounts ? { mounts: o.mounts } : {}),
    });
  }
  return { plan, results };
}
