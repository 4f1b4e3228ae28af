import type { Logger } from "../log/types.ts";
import type { Journal, JournalEntry } from "../store/journal.ts";
import { classifyFailure } from "./failure.ts";
import { resolutionWithResult } from "./operation-ids.ts";
import type { Resolution } from "./resolve-in-flight.ts";
import {
  type ApiHostExecutor,
  attachedUsbUuid,
  type HostOpDeps,
  type HostStep,
  sameTarget,
} from "./storage-executors.ts";

/** Stable causes for the refusals of host operations that are not Proxmox's. */
const HOST_FAILURE_CAUSE: Record<string, string> = {
  StorageInUseError: "in_use",
  StorageIdentityError: "identity_conflict",
  PrivilegedCommandError: "mount_failed",
  MountConflictError: "mount_conflict",
  PrivilegedArgumentError: "invalid_params",
  SealedSecretError: "sealed_secret",
};

/** How one run of a host operation ended, already written to the journal (or left in flight). */
export type HostOutcome =
  | { state: "done"; result: Record<string, unknown>; reason?: string }
  | { state: "failed"; reason: string };

/**
 * What Proxmox has under the id a `storage.add` names, the gate's fact
 * (docs/reconcile.md#host-operations): none, this target, another one; undefined if unreadable.
 */
export async function storageFact(
  deps: HostOpDeps,
  journal: Pick<Journal, "forHost">,
  p: { id: string } & Record<string, unknown>,
): Promise<"absent" | "same" | "different" | undefined> {
  try {
    const e = (await deps.client.listStorage()).find((s) => s.storage === p.id);
    if (e === undefined) return "absent";
    const { id, ...target } = p;
    return sameTarget(id, target as never, e, attachedUsbUuid(journal, id)) ? "same" : "different";
  } catch {
    return undefined;
  }
}

/**
 * Runs a journaled host operation's steps and writes its terminal phase. A lost answer is
 * settled from Proxmox's configuration at once (never re-sent); when that cannot be read the
 * entry stays at `intent` for the next pass's recovery.
 */
export async function runHostSteps(
  exec: ApiHostExecutor<unknown>,
  deps: HostOpDeps,
  params: unknown,
  journalId: number,
  o: {
    journal: Pick<Journal, "recordTerminal">;
    logger: Logger;
    step: (point: HostStep) => Promise<void>;
  },
): Promise<HostOutcome> {
  const log = o.logger;
  try {
    const result = await exec.run(deps, params, o.step);
    o.journal.recordTerminal(journalId, "done", {
      resolution: resolutionWithResult("done by the agent", result),
    });
    log.info("operation done", { journal: journalId });
    return { state: "done", result };
  } catch (err) {
    const failure = classifyFailure(err);
    if (failure.class === "unknown_outcome") {
      const visible = await exec.inEffect(deps, params).catch(() => undefined);
      if (visible === undefined) {
        return { state: "failed", reason: "unknown_outcome: Proxmox could not be read" };
      }
      o.journal.recordTerminal(journalId, visible ? "done" : "abandoned", {
        resolution: `answer lost (${failure.cause}); ${visible ? "the change is in effect" : "not in effect, re-planned"}`,
      });
      return visible
        ? { state: "done", result: {}, reason: `answer lost: ${failure.cause}` }
        : { state: "failed", reason: `answer lost: ${failure.cause}` };
    }
    const cause = HOST_FAILURE_CAUSE[(err as Error)?.name ?? ""] ?? failure.cause;
    o.journal.recordTerminal(journalId, "failed", {
      error: { class: failure.class, cause, ...failure.detail },
    });
    log.warn("operation failed", { journal: journalId, cause, error: failure.message });
    return { state: "failed", reason: `${cause}: ${failure.message}` };
  }
}

/**
 * A host operation a crash left in flight: `done` when Proxmox shows its effect, else
 * `abandoned` (the next pass plans it again; the USB mount and its fstab line are idempotent).
 * Reads only; a failed read propagates and the entry stays in flight.
 */
export async function settleHostEntry(
  entry: JournalEntry,
  exec: ApiHostExecutor<unknown>,
  deps: HostOpDeps,
  journal: Pick<Journal, "recordTerminal">,
  label: string,
): Promise<Resolution> {
  let params: unknown;
  try {
    params = exec.parseParams(entry.params);
  } catch {
    const how = `${label}: stored params are invalid; nothing was re-sent`;
    journal.recordTerminal(entry.id, "abandoned", { resolution: how });
    return { kind: "abandoned", entryId: entry.id, how };
  }
  const visible = await exec.inEffect(deps, params);
  const kind = visible ? "done" : "abandoned";
  const how = visible
    ? `${label}: ${entry.op} is in effect in Proxmox`
    : `${label}: ${entry.op} is not in effect; re-planned from actual state`;
  journal.recordTerminal(entry.id, kind, { resolution: how });
  return { kind, entryId: entry.id, how };
}
