import { type BackupTier, pruneBackupsText } from "../ops/params/backup-policy.ts";
import type { OperationRequest, OperationStatus } from "../ops/types.ts";
import type { PruneMark, StorageVolume } from "../proxmox/schema-storage.ts";
import { samePolicy } from "../store/backup-policies.ts";
import type { JournalEntry } from "../store/journal.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import {
  type DuePlan,
  guestTiers,
  historyKey,
  planDueBackups,
  type ScheduleGuest,
  type TierHistory,
} from "./backup-due.ts";
import {
  type BackupFloor,
  decidePrune,
  judgeDesiredPolicy,
  type PruneDecision,
  type PruneMarkEntry,
} from "./backup-floor.ts";
import { monthlyPointToProtect } from "./backup-monthly-point.ts";
import { type GuestNow, judgeUnchanged } from "./backup-unchanged.ts";
import type { DesiredHostState } from "./desired-state.ts";
import { journalOperationId, statusFromJournal } from "./operation-ids.ts";

/** How the scheduler hands a backup to the engine: the engine's own `enqueue`. */
export interface BackupEnqueue {
  enqueue(req: OperationRequest): Promise<{
    status: OperationStatus;
    settled: Promise<OperationStatus>;
  }>;
}

export interface BackupSchedulerConfig {
  floor: BackupFloor;
  catchupJitterMs: number;
  concurrency: number;
  retryAfterMs: number;
  utcOffsetMs: number;
  /** A guest list older than this is read again even when nothing is due. */
  guestListMaxAgeMs: number;
  seed: string;
}

export interface BackupSchedulerDeps {
  store: Pick<Store, "backupPolicies" | "backupHistory" | "journal" | "audit">;
  /** The desired state in force now, if any (docs/desired-state.md#backup-policy). */
  desired: () => DesiredHostState | undefined;
  engine: BackupEnqueue;
  /** One Proxmox read: the guests with their run state and lock. */
  listGuests: () => Promise<ScheduleGuest[]>;
  /** PVE's prune dry run for one guest on one storage (docs/proxmox-behaviour.md#backup-retention-marks). */
  pruneDryRun: (
    storage: string,
    p: { vmid: number; pruneBackups: string },
  ) => Promise<readonly PruneMark[]>;
  /**
   * The storage's backups (`GET …/content?content=backup`), read with the guest list so
   * backups made by hand enter the history too; absent, none are imported.
   */
  backupListing?: (storage: string) => Promise<readonly StorageVolume[]>;
  /**
   * A stopped guest's config digest and its tasks since `sinceMs`, read only when it is due
   * (docs/reconcile.md#stopped-and-unchanged-guests); absent, a stopped guest is backed up
   * like any other.
   */
  guestSince?: (vmid: number, sinceMs: number) => Promise<Omit<GuestNow, "status">>;
  /**
   * The last lines of a task's log, read once per failed backup for its reason and log tail
   * (docs/reconcile.md#backup-schedule); absent, a failure is recorded with the journal's reason.
   */
  taskLogTail?: (upid: string) => Promise<readonly string[]>;
  clock: Clock;
  config: BackupSchedulerConfig;
}

/** What one tick did, for the loop's log and for tests. */
export interface TickResult {
  plan?: DuePlan;
  /** Retention decisions taken this tick, one per guest and tier with a new backup. */
  retention: {
    vmid: number;
    storage: string;
    /** The `prune-backups` the decision was made under (keep-last raised over the floor). */
    retention: string;
    decision: PruneDecision;
    pruneId?: string;
    /** The `guest.backup.protect` of the tier's monthly point, when one was asked. */
    protectId?: string;
  }[];
  started: { vmid: number; storage: string; id: string; reason: string }[];
  proxmoxReads: number;
}

/** How many journal entries a tick scans for backups in flight and just settled. */
const JOURNAL_WINDOW = 2000;

/**
 * The backup scheduler (docs/reconcile.md#backup-schedule): each tick adopts or holds the
 * desired policy, plans what is due from the store and the journal, and hands each due backup
 * to the engine, which gates, journals and audits it like any other operation. What counts as
 * done is what the journal says, so a restart neither repeats a backup nor forgets one in
 * flight: the engine's recovery settles it first, and this reads the result.
 */
export class BackupScheduler {
  private readonly startedAtMs: number;
  private guests: ScheduleGuest[] | undefined;
  private guestsReadAt = 0;
  private heldPolicy: string | undefined;
  /** Failed backups PVE refused because someone else held the guest's lock: not failures. */
  private readonly lockRefused = new Set<number>();
  /** Settled prunes and deletes already written into the history as `removed` rows. */
  private readonly removalsSeen = new Set<number>();
  /** Per guest and tier, the period a stopped guest was last found changed in: read once. */
  private readonly foundChanged = new Map<string, number>();

  constructor(private readonly deps: BackupSchedulerDeps) {
    this.startedAtMs = deps.clock.now();
  }

  async tick(): Promise<TickResult> {
    const result: TickResult = { started: [], proxmoxReads: 0, retention: [] };
    this.adoptDesiredPolicy();
    const inForce = this.deps.store.backupPolicies.inForce();
    // Without a policy nothing is scheduled or pruned, but every settled backup still enters
    // the history (`backup list`), whoever asked for it.
    if (inForce === undefined) {
      const recent = this.deps.store.journal.recent(JOURNAL_WINDOW);
      await this.recordFailures(recent, result);
      this.history(recent);
      return result;
    }
    const now = this.deps.clock.now();
    const { config } = this.deps;
    const stale = this.guests === undefined || now - this.guestsReadAt >= config.guestListMaxAgeMs;
    if (stale) await this.importListings(Object.keys(inForce.policy.tiers), result);
    // One journal read per tick serves both: failures first, so the plan sees them.
    const recent = this.deps.store.journal.recent(JOURNAL_WINDOW);
    await this.recordFailures(recent, result);
    const { history, running, fresh } = this.history(recent);
    for (const f of fresh) {
      const tier = guestTiers(inForce.policy, f.vmid).find(([id]) => id === f.storage)?.[1];
      if (tier === undefined) continue;
      result.proxmoxReads++;
      const r = await this.retain(f.vmid, f.storage, tier).catch((err: Error) => {
        this.deps.store.audit.append({
          actor: "agent",
          action: "backup.retention",
          target: `guest:${f.vmid}`,
          outcome: "failed",
          details: { storage: f.storage, error: err.message.slice(0, 500) },
        });
        return undefined;
      });
      if (r !== undefined) result.retention.push(r);
    }
    const plan = (guests: ScheduleGuest[]) =>
      planDueBackups({
        policy: inForce.policy,
        guests,
        history,
        nowMs: now,
        startedAtMs: this.startedAtMs,
        catchupJitterMs: config.catchupJitterMs,
        running,
        concurrency: config.concurrency,
        retryAfterMs: config.retryAfterMs,
        utcOffsetMs: config.utcOffsetMs,
        seed: config.seed,
      });
    let guests = this.guests;
    if (guests === undefined || stale) guests = await this.readGuests(result);
    let p = plan(guests);
    if (p.start.length > 0 && this.guestsReadAt < now) {
      // Something is due: its lock and run state are read fresh before it starts.
      guests = await this.readGuests(result);
      p = plan(guests);
    }
    // A stopped guest unchanged since its last good backup is not backed up again; the check
    // costs two reads, once per guest, tier and period, and only when it is due.
    for (;;) {
      const found = await this.confirmUnchanged(p, guests, history, result);
      if (found === 0) break;
      p = plan(guests);
    }
    result.plan = p;
    for (const due of p.start) {
      const started = await this.launch(due.vmid, due.storage, due.tier, due.reason);
      if (started !== undefined) result.started.push(started);
    }
    return result;
  }

  /**
   * Failed backups not yet in the history, each read once from its task log: the reason is
   * vzdump's own `ERROR: Backup of VM <vmid> failed - …` line (the task's exit status is only
   * `job errors`), with the log's tail. One that failed because the guest was locked by a
   * backup or snapshot someone else ran is no failure of the guest's backups: it is left out of
   * the history, and the next tick sees the lock and skips the guest, or backs it up.
   */
  private async recordFailures(recent: readonly JournalEntry[], result: TickResult): Promise<void> {
    const read = this.deps.taskLogTail;
    if (read === undefined) return;
    const { store } = this.deps;
    for (const e of recent) {
      if (e.op !== "guest.backup" || e.phase !== "failed" || e.vmid === null || e.upid === null)
        continue;
      if (this.lockRefused.has(e.id) || store.backupHistory.hasJournal(e.id)) continue;
      const storage = (e.params as { storage?: unknown } | null)?.storage;
      if (typeof storage !== "string") continue;
      result.proxmoxReads++;
      const lines = await read(e.upid).catch(() => undefined);
      const failure = vzdumpFailure(lines ?? [], e.vmid);
      if (failure !== undefined && LOCK_REFUSAL.test(failure)) {
        this.lockRefused.add(e.id);
        continue;
      }
      const status = statusFromJournal(e, journalOperationId(e.id));
      store.backupHistory.record({
        vmid: e.vmid,
        storage,
        volid: null,
        result: "failed",
        startedAt: e.createdAt,
        finishedAt: e.updatedAt,
        size: null,
        reason: failure ?? status?.reason ?? "failed",
        logTail: lines === undefined ? null : lines.join("\n"),
        journalId: e.id,
      });
    }
  }

  /**
   * Judges each stopped guest about to start whose newest good backup recorded a config
   * digest; one found unchanged is marked so in the history (and in `history`, so the next plan
   * skips it). Returns how many were found unchanged.
   */
  private async confirmUnchanged(
    p: DuePlan,
    guests: readonly ScheduleGuest[],
    history: Map<string, TierHistory>,
    result: TickResult,
  ): Promise<number> {
    const read = this.deps.guestSince;
    if (read === undefined) return 0;
    let found = 0;
    for (const due of p.start) {
      const guest = guests.find((g) => g.vmid === due.vmid);
      const key = historyKey(due.vmid, due.storage);
      if (guest?.status !== "stopped" || this.foundChanged.get(key) === due.periodStartMs) continue;
      const base = this.deps.store.backupHistory.newestGood(due.vmid, due.storage);
      if (base?.configDigest == null || base.startedAt === null) continue;
      result.proxmoxReads += 2;
      const now = await read(due.vmid, base.startedAt).catch(() => undefined);
      const verdict =
        now === undefined
          ? ({ unchanged: false, why: "it could not be read" } as const)
          : judgeUnchanged(base, { status: "stopped", ...now });
      if (!verdict.unchanged) {
        this.foundChanged.set(key, due.periodStartMs);
        continue;
      }
      const at = this.deps.clock.now();
      this.deps.store.backupHistory.markUnchanged(due.vmid, due.storage, at);
      history.set(key, { ...history.get(key), unchangedAt: at });
      found++;
    }
    return found;
  }

  private async readGuests(result: TickResult): Promise<ScheduleGuest[]> {
    result.proxmoxReads++;
    const busy = new Set<number>();
    for (const e of this.deps.store.journal.inFlight()) if (e.vmid !== null) busy.add(e.vmid);
    const list = await this.deps.listGuests();
    this.guests = list.map((g) => (busy.has(g.vmid) ? { ...g, busy: true } : g));
    this.guestsReadAt = this.deps.clock.now();
    return this.guests;
  }

  /**
   * Backups on the policy's storages that the history does not know yet (made by hand, or
   * before the agent) are recorded as `seen`; a known archive gets its size. A storage that
   * cannot be listed (an unplugged disk) is skipped until the next read.
   */
  private async importListings(storages: string[], result: TickResult): Promise<void> {
    const list = this.deps.backupListing;
    if (list === undefined) return;
    for (const storage of storages) {
      result.proxmoxReads++;
      const volumes = await list(storage).catch(() => undefined);
      if (volumes !== undefined) this.noteGone(storage, volumes);
      for (const v of volumes ?? []) {
        if (v.vmid === undefined || v.vmid < 100 || !v.volid.startsWith(`${storage}:`)) continue;
        this.deps.store.backupHistory.record({
          vmid: v.vmid,
          storage,
          volid: v.volid,
          result: "seen",
          startedAt: null,
          finishedAt: (v.ctimeSec ?? 0) * 1000,
          size: v.sizeBytes,
          reason: null,
          logTail: null,
          journalId: null,
          protected: v.protected === true,
        });
      }
    }
  }

  /**
   * Archives the history counts as present that a complete listing of their storage no longer
   * shows were removed outside the agent's retention (by hand, or by PVE's own): their rows
   * become `removed`, so freshness stops counting them. A listing with unreadable items proves
   * nothing and is skipped.
   */
  private noteGone(
    storage: string,
    volumes: readonly StorageVolume[] & { problems?: unknown[] },
  ): void {
    if ((volumes.problems?.length ?? 0) > 0) return;
    const listed = new Set(volumes.map((v) => v.volid));
    const gone = this.deps.store.backupHistory
      .present(storage)
      .filter((h) => !listed.has(h.volid))
      .map((h) => ({ ...h, storage }));
    if (gone.length > 0) {
      this.deps.store.backupHistory.markRemoved(gone, "no longer in the storage's backup listing");
    }
  }

  /**
   * A desired policy is adopted when it passes the floor and lowers nothing; held otherwise,
   * audited once per distinct document, until a signed `backup.policy` brings one
   * (docs/reconcile.md#backup-retention-floor).
   */
  private adoptDesiredPolicy(): void {
    const desired = this.deps.desired()?.backupPolicy;
    if (desired === undefined) return;
    const { store, config } = this.deps;
    const inForce = store.backupPolicies.inForce()?.policy;
    const verdict = judgeDesiredPolicy(desired, inForce, config.floor, samePolicy);
    if (verdict.kind === "unchanged") {
      this.heldPolicy = undefined;
      return;
    }
    if (verdict.kind === "adopt") {
      store.backupPolicies.record(desired, "desired");
      this.heldPolicy = undefined;
      store.audit.append({
        actor: "agent",
        action: "backup.policy",
        outcome: "adopted",
        details: { source: "desired", tiers: Object.keys(desired.tiers).sort() },
      });
      return;
    }
    const text = JSON.stringify(desired);
    if (this.heldPolicy === text) return;
    this.heldPolicy = text;
    store.audit.append({
      actor: "agent",
      action: "backup.policy",
      outcome: "held",
      details: { reasons: verdict.reasons, needs: "a signed backup.policy operation" },
    });
  }

  /**
   * Per guest per tier: the newest good and failed backups from the store's history and from
   * the journal (a backup the journal has as done counts even before its archive is listed),
   * and whether one is in flight. Store reads only, never Proxmox.
   */
  private history(recent: readonly JournalEntry[]): {
    history: Map<string, TierHistory>;
    running: number;
    fresh: { vmid: number; storage: string }[];
  } {
    const { store } = this.deps;
    let running = 0;
    const inFlight = new Map<string, true>();
    const journalGood = new Map<string, number>();
    const fresh = new Map<string, { vmid: number; storage: string }>();
    for (const e of recent) {
      if (e.vmid !== null && e.phase === "done" && !this.removalsSeen.has(e.id)) {
        if (recordRemovals(store.backupHistory, e, e.vmid)) this.removalsSeen.add(e.id);
      }
      if (e.op !== "guest.backup" || e.vmid === null) continue;
      const storage = (e.params as { storage?: unknown } | null)?.storage;
      if (typeof storage !== "string") continue;
      if (e.phase === "intent" || e.phase === "posted") {
        running++;
        inFlight.set(historyKey(e.vmid, storage), true);
      } else {
        const key = historyKey(e.vmid, storage);
        if (e.phase === "done")
          journalGood.set(key, Math.max(journalGood.get(key) ?? 0, e.updatedAt));
        if (!store.backupHistory.hasJournal(e.id) && !this.lockRefused.has(e.id)) {
          recordFromJournal(store.backupHistory, e, e.vmid, storage);
          // A new good backup: its tier's retention runs after it, once.
          if (e.phase === "done") fresh.set(key, { vmid: e.vmid, storage });
        }
      }
    }
    const history = new Map<string, TierHistory>();
    for (const s of store.backupHistory.summaries()) {
      history.set(historyKey(s.vmid, s.storage), {
        ...(s.lastGoodAt !== undefined ? { lastGoodAt: s.lastGoodAt } : {}),
        ...(s.unchangedAt !== undefined ? { unchangedAt: s.unchangedAt } : {}),
        ...(s.lastFailedAt !== undefined ? { lastFailedAt: s.lastFailedAt } : {}),
      });
    }
    // The journal's word is final even where the history row could not say it (an archive
    // name seen twice): a settled backup counts from its journal entry.
    for (const [key, at] of journalGood) {
      const h = history.get(key) ?? {};
      if ((h.lastGoodAt ?? 0) < at) h.lastGoodAt = at;
      if (h.lastFailedAt !== undefined && h.lastFailedAt < (h.lastGoodAt ?? 0))
        delete h.lastFailedAt;
      history.set(key, h);
    }
    for (const key of inFlight.keys()) history.set(key, { ...history.get(key), inFlight: true });
    return { history, running, fresh: [...fresh.values()] };
  }

  /**
   * The retention step for one guest on one tier, after a new backup
   * (docs/reconcile.md#backup-retention-floor): PVE's dry run under the tier's retention, the
   * marks checked against the floor, one audit row with the decision, then, if anything is to
   * go, `guest.backup.prune` through the engine. When the floor holds back some of PVE's
   * removals, keep-last is raised over them and the dry run asked again, so one prune still
   * removes exactly what the floor allows; if that does not settle it, nothing is removed.
   */
  private async retain(
    vmid: number,
    storage: string,
    tier: BackupTier,
  ): Promise<TickResult["retention"][number]> {
    const { floor } = this.deps.config;
    const now = this.deps.clock.now();
    let retention = pruneBackupsText(tier.retention);
    let lastMarks = toEntries(
      await this.deps.pruneDryRun(storage, { vmid, pruneBackups: retention }),
    );
    let decision = decidePrune(lastMarks, floor, now);
    if (decision.method === "per_volume") {
      const raised = raiseKeepLast(tier, decision);
      retention = pruneBackupsText(raised);
      lastMarks = toEntries(
        await this.deps.pruneDryRun(storage, { vmid, pruneBackups: retention }),
      );
      decision = decidePrune(lastMarks, floor, now);
    }
    const held = decision.method === "per_volume";
    const removing = !held && decision.removed.length > 0;
    const protect =
      tier.protected_monthly === true
        ? monthlyPointToProtect(
            lastMarks,
            new Set(removing ? decision.removed : []),
            now,
            this.deps.config.utcOffsetMs,
          )
        : undefined;
    this.deps.store.audit.append({
      actor: "agent",
      action: "backup.retention",
      target: `guest:${vmid}`,
      outcome: held ? "held_by_floor" : removing ? "prune" : "nothing_to_remove",
      details: {
        storage,
        retention,
        kept: decision.kept.map((k) => ({ volid: k.volid, why: k.reason })),
        removed: held ? [] : decision.removed,
        ...(protect !== undefined ? { protect } : {}),
      },
    });
    const out: TickResult["retention"][number] = { vmid, storage, retention, decision };
    if (removing) {
      const { status, settled } = await this.deps.engine.enqueue({
        op: "guest.backup.prune",
        vmid,
        params: { storage, pruneBackups: retention, remove: decision.removed },
        origin: "schedule",
        priority: "background",
      });
      void settled.catch(() => undefined);
      out.pruneId = status.id;
    }
    if (protect !== undefined) {
      const { status, settled } = await this.deps.engine.enqueue({
        op: "guest.backup.protect",
        vmid,
        params: { storage, volid: protect },
        origin: "schedule",
        priority: "background",
      });
      void settled.catch(() => undefined);
      out.protectId = status.id;
    }
    return out;
  }

  private async launch(
    vmid: number,
    storage: string,
    tier: BackupTier,
    reason: string,
  ): Promise<TickResult["started"][number] | undefined> {
    const params: Record<string, unknown> = { storage };
    if (tier.mode !== undefined) params.mode = tier.mode;
    if (tier.compress !== undefined) params.compress = tier.compress;
    if (tier.notes_template !== undefined) params.notesTemplate = tier.notes_template;
    const { status, settled } = await this.deps.engine.enqueue({
      op: "guest.backup",
      vmid,
      params,
      origin: "schedule",
      priority: "background",
    });
    // The engine journals the intent before it answers; the settled result is read back from
    // the journal by the next tick, whoever settles it (this run, or recovery after a crash).
    void settled.catch(() => undefined);
    if (status.state !== "queued" && status.state !== "running") return undefined;
    return { vmid, storage, id: status.id, reason };
  }
}

/**
 * A settled `guest.backup` from the journal into the history, whatever its origin (schedule,
 * hub job, local API, operator): a done one with the archive its result names, a failed one
 * with the reason. A done entry whose archive was not found is still a good backup for the
 * schedule, recorded without its volume.
 */
function recordFromJournal(
  history: Store["backupHistory"],
  e: JournalEntry,
  vmid: number,
  storage: string,
): void {
  const status = statusFromJournal(e, journalOperationId(e.id));
  if (status === undefined) return;
  const archive = status.result?.archive;
  const base = {
    vmid,
    storage,
    startedAt: e.createdAt,
    finishedAt: e.updatedAt,
    size: null,
    logTail: null,
    journalId: e.id,
  };
  if (status.state === "done") {
    const volid = typeof archive === "string" ? archive : null;
    const digest = status.result?.config_digest;
    const size = status.result?.size;
    history.record({
      ...base,
      volid,
      result: "ok",
      reason: null,
      size: typeof size === "number" && Number.isInteger(size) && size >= 0 ? size : null,
      configDigest: typeof digest === "string" ? digest : null,
    });
  } else if (status.state === "failed") {
    history.record({ ...base, volid: null, result: "failed", reason: status.reason ?? "failed" });
  }
}

/**
 * A settled `guest.backup.prune`, `guest.backup.delete` or `guest.backup.protect` into the
 * history: each archive removed keeps its row, now `removed`, with why; a protected one is
 * marked so. Returns whether the entry was one of them.
 */
function recordRemovals(history: Store["backupHistory"], e: JournalEntry, vmid: number): boolean {
  const p = e.params as {
    storage?: unknown;
    remove?: unknown;
    volid?: unknown;
    pruneBackups?: unknown;
  };
  if (typeof p?.storage !== "string") return false;
  const storage = p.storage;
  if (e.op === "guest.backup.prune" && Array.isArray(p.remove)) {
    const volids = p.remove.filter((v): v is string => typeof v === "string");
    history.markRemoved(
      volids.map((volid) => ({ vmid, storage, volid })),
      `pruned by retention (${String(p.pruneBackups)}), ${e.origin === "schedule" ? "the agent's retention step" : `asked by ${e.origin}`}`,
      e.updatedAt,
    );
    return true;
  }
  if (e.op === "guest.backup.protect" && typeof p.volid === "string") {
    history.markProtected(p.volid);
    return true;
  }
  if (e.op === "guest.backup.delete" && typeof p.volid === "string") {
    history.markRemoved(
      [{ vmid, storage, volid: p.volid }],
      `deleted by guest.backup.delete (${e.origin})`,
      e.updatedAt,
    );
    return true;
  }
  return false;
}

/** vzdump refuses a guest another task holds (docs/proxmox-behaviour.md#vzdump-modes-and-failures). */
const LOCK_REFUSAL =
  /^CT is locked \((backup|snapshot|snapshot-delete|create|disk|mounted|migrate|rollback)\)$/;

/** A full target shows only in the compressor's output, not in vzdump's ERROR line. */
const NO_SPACE = "No space left on device";

/**
 * vzdump's reason a guest's backup failed, from its log: its `ERROR: Backup of VM` line, else
 * the task's `TASK ERROR:` line; undefined when the log names none.
 */
function vzdumpFailure(lines: readonly string[], vmid: number): string | undefined {
  const prefix = `ERROR: Backup of VM ${vmid} failed - `;
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i] as string;
    if (!l.startsWith(prefix)) continue;
    const reason = l.slice(prefix.length).slice(0, 900);
    const full = !reason.includes(NO_SPACE) && lines.some((x) => x.includes(NO_SPACE));
    return full ? `${NO_SPACE}: ${reason}` : reason;
  }
  // No guest line (the job itself failed): the task's own last words.
  const task = lines.findLast((l) => l.startsWith("TASK ERROR: "));
  return task === undefined ? undefined : task.slice("TASK ERROR: ".length).slice(0, 900);
}

function toEntries(marks: readonly PruneMark[]): PruneMarkEntry[] {
  return marks.map((m) => ({ volid: m.volid, ctime: m.ctimeSec, mark: m.mark }));
}

/**
 * The tier's retention with keep-last raised over every backup the floor held back: those are
 * the newest ones (the newest N, and those younger than the minimum age), so keeping that many
 * of the newest covers them.
 */
function raiseKeepLast(tier: BackupTier, d: PruneDecision): BackupTier["retention"] {
  const held = new Set(
    d.kept
      .filter((k) => k.reason === "floor_newest" || k.reason === "floor_age")
      .map((k) => k.volid),
  );
  // `kept` and `removed` together are every entry; the newest-first order is `kept`'s own.
  const standard = d.kept
    .filter((k) => k.reason === "policy" || held.has(k.volid))
    .map((k) => k.volid);
  const lastHeld = Math.max(...standard.map((v, i) => (held.has(v) ? i : -1)));
  return { ...tier.retention, keep_last: Math.max(tier.retention.keep_last ?? 0, lastHeld + 1) };
}
