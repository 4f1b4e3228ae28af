import type { Logger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { BackupConfig } from "../reconcile/backup-config-section.ts";
import type { ScheduleGuest } from "../reconcile/backup-due.ts";
import { type BackupEnqueue, BackupScheduler } from "../reconcile/backup-scheduler.ts";
import type { DesiredHostState } from "../reconcile/desired-state.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";

export interface BackupLoopOptions {
  config: BackupConfig;
  store: Store;
  engine: BackupEnqueue;
  client: Pick<
    ProxmoxClient,
    "listLXC" | "pruneDryRun" | "storageContent" | "guestConfig" | "listTasks" | "taskLogTail"
  >;
  desired: () => DesiredHostState | undefined;
  clock: Clock;
  logger: Logger;
  /** Stable per host: spreads this host's guests over the window (docs/reconcile.md#backup-schedule). */
  seed: string;
  /** Where a guest's backups go when `backup run` names no storage (desired state, then the node's default). */
  backupStorageFor: (vmid: number) => string | undefined;
}

/** How often queued `backup run` requests are looked for. */
const REQUEST_POLL_MS = 1000;

/**
 * Submits each backup queued by `felhom-agent backup run` to the engine (origin `operator`,
 * interactive), and records the outcome for the command to read.
 */
export async function carryOutBackupRequests(
  o: Pick<BackupLoopOptions, "store" | "engine" | "backupStorageFor" | "logger">,
): Promise<void> {
  for (const req of o.store.backupRequests.waiting()) {
    const storage = req.storage ?? o.backupStorageFor(req.vmid);
    if (storage === undefined) {
      o.store.backupRequests.finish(
        req.id,
        "failed",
        undefined,
        "no backup storage: name one with --storage, or set backup_storage in the desired state",
      );
      continue;
    }
    try {
      const { status, settled } = await o.engine.enqueue({
        op: "guest.backup",
        vmid: req.vmid,
        params: { storage },
        origin: "operator",
        priority: "interactive",
      });
      void settled.catch(() => undefined);
      o.store.backupRequests.finish(req.id, status.state, status.id, status.reason);
      o.logger.info("backup asked on the command line submitted", {
        vmid: req.vmid,
        storage,
        operation: status.id,
        state: status.state,
      });
    } catch (err) {
      o.store.backupRequests.finish(req.id, "failed", undefined, (err as Error).message);
    }
  }
}

/** The scheduler's guest view from one `GET …/lxc`; templates are never backed up by it. */
async function listGuests(client: Pick<ProxmoxClient, "listLXC">): Promise<ScheduleGuest[]> {
  return (await client.listLXC())
    .filter((g) => !g.template)
    .map((g) => ({
      vmid: g.vmid,
      status: g.status === "running" ? "running" : "stopped",
      ...(g.lock !== undefined ? { lock: g.lock } : {}),
    }));
}

/**
 * The skips worth a log line: each guest and tier once when its skip starts or its reason
 * changes, not at every tick. `now` is what the next tick compares against.
 */
export function newSkips<S extends { vmid: number; storage: string; reason: string }>(
  before: ReadonlyMap<string, string>,
  skipped: readonly S[],
): { fresh: S[]; now: Map<string, string> } {
  const now = new Map<string, string>();
  const fresh: S[] = [];
  for (const s of skipped) {
    const key = `${s.vmid}/${s.storage}`;
    now.set(key, s.reason);
    if (before.get(key) !== s.reason) fresh.push(s);
  }
  return { fresh, now };
}

/** How many of a guest's tasks are read at most; a full page means "cannot tell". */
const TASKS_LIMIT = 200;

/**
 * A stopped guest's config digest and every task on it since its last backup started, by any
 * user (the token has `Sys.Audit` on the node), for the stopped-and-unchanged check
 * (docs/reconcile.md#stopped-and-unchanged-guests).
 */
export async function guestSince(
  client: Pick<ProxmoxClient, "guestConfig" | "listTasks">,
  vmid: number,
  sinceMs: number,
) {
  const config = await client.guestConfig(vmid);
  const tasks = await client.listTasks({
    vmid,
    since: Math.floor(sinceMs / 1000),
    source: "all",
    limit: TASKS_LIMIT,
  });
  return {
    configDigest: config.digest,
    tasks: tasks.map((t) => ({ type: t.type, upid: t.upid })),
    tasksTruncated: tasks.length >= TASKS_LIMIT || (tasks.problems?.length ?? 0) > 0,
  };
}

/**
 * Runs the backup scheduler every `tick_s` until `signal` aborts. Started after recovery, so a
 * backup a crash left in flight is settled before the first tick reads the journal.
 */
export async function runBackupLoop(o: BackupLoopOptions, signal: AbortSignal): Promise<void> {
  const { config: c, clock, logger } = o;
  const scheduler = new BackupScheduler({
    store: o.store,
    desired: o.desired,
    engine: o.engine,
    listGuests: () => listGuests(o.client),
    pruneDryRun: (storage, p) => o.client.pruneDryRun(storage, p),
    backupListing: (storage) => o.client.storageContent(storage, { content: "backup" }),
    guestSince: (vmid, sinceMs) => guestSince(o.client, vmid, sinceMs),
    taskLogTail: (upid) => o.client.taskLogTail(upid, 30),
    clock,
    config: {
      floor: { keepNewest: c.floor_keep_newest, minAgeMs: c.floor_min_age_days * 86_400_000 },
      catchupJitterMs: c.catchup_jitter_s * 1000,
      concurrency: c.concurrency,
      retryAfterMs: c.retry_after_s * 1000,
      // Daily windows are read in the host's local time, as PVE names its archives.
      utcOffsetMs: -new Date(clock.now()).getTimezoneOffset() * 60_000,
      guestListMaxAgeMs: c.guest_list_max_age_s * 1000,
      seed: o.seed,
    },
  });
  let nextTick = clock.now();
  /** Per guest and tier, why the last tick skipped it. */
  let skipping = new Map<string, string>();
  while (!signal.aborted) {
    try {
      await carryOutBackupRequests(o);
    } catch (err) {
      logger.warn("backup requests could not be read", { error: (err as Error).message });
    }
    if (clock.now() < nextTick) {
      try {
        await clock.sleep(REQUEST_POLL_MS, signal);
      } catch {
        return;
      }
      continue;
    }
    nextTick = clock.now() + c.tick_s * 1000;
    try {
      const r = await scheduler.tick();
      for (const s of r.started) {
        logger.info("scheduled backup started", { ...s });
      }
      for (const d of r.retention) {
        logger.info("backup retention decided", {
          vmid: d.vmid,
          storage: d.storage,
          kept: d.decision.kept.length,
          removed: d.decision.removed.length,
        });
      }
      const skips = newSkips(skipping, r.plan?.skipped ?? []);
      for (const s of skips.fresh) logger.info("scheduled backup skipped", { ...s });
      skipping = skips.now;
    } catch (err) {
      logger.warn("backup scheduler tick failed; trying again next tick", {
        error: (err as Error).message,
      });
    }
    try {
      await clock.sleep(REQUEST_POLL_MS, signal);
    } catch {
      return;
    }
  }
}
