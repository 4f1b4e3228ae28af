import { requestActor, targetOf } from "../gate/actor.ts";
import type { Gate, GateDecision } from "../gate/seam.ts";
import type { Logger } from "../log/types.ts";
import type {
  OperationRequest,
  OperationState,
  OperationStatus,
  OperationSubmitter,
} from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { TaskWaitAbortedError } from "../proxmox/task-error.ts";
import type { OverrideInput } from "../store/guest-overrides.ts";
import type { IntentInput } from "../store/journal.ts";
import type { Store } from "../store/store.ts";
import type { RetryPolicy } from "../util/backoff.ts";
import { canonicalJson } from "../util/canonical-json.ts";
import type { Clock } from "../util/clock.ts";
import type { ClockOffsetSource } from "./clock-offset.ts";
import type { DesiredGuestSpec } from "./desired-state.ts";
import { type ExecOp, type ExecSecrets, executorFor, type OpExecutor } from "./executors.ts";
import { classifyFailure } from "./failure.ts";
import { gateFacts } from "./gate-facts.ts";
import { type ExecutionJournal, lifecycleJournal } from "./guest-lifecycle.ts";
import { GuestQueue, HOST_KEY, QueueClosedError, type Slot } from "./guest-queue.ts";
import { HangWatch, type HungTask } from "./hang-watch.ts";
import { type HostExecutor, hostExecutorFor } from "./host-executors.ts";
import { runHostSteps, settleHostEntry, storageFact } from "./host-op-steps.ts";
import { type IntentOutcome, recorded, refused } from "./intent-outcome.ts";
import { awaitLostAnswer, type LostAnswerDeps, lostAnswerRules } from "./lost-answer.ts";
import {
  journalOperationId,
  parseOperationId,
  resolutionWithResult,
  statusFromJournal,
  statusFromPending,
} from "./operation-ids.ts";
import { growOverrides } from "./overrides.ts";
import { defaultQuickRetry, sendWithQuickRetry } from "./quick-retry.ts";
import { type Resolution, type ResolveClient, resolveInFlight } from "./resolve-in-flight.ts";
import { type ApiHostExecutor, apiHostExecutorFor, type HostOpDeps } from "./storage-executors.ts";

/** Operation statuses kept in memory for `status(id)`; the store answers for the rest. */
const MAX_TRACKED = 10_000;
const TERMINAL_STATES = new Set<OperationState>(["done", "failed", "rejected"]);

/**
 * The instants between the durable steps of one operation. Tests stop the process at each
 * one to prove recovery (test/daemon); production passes no hooks.
 */
export type StepPoint = "intent" | "prepared" | "post_returned" | "upid" | "task_done";

export interface EngineHooks {
  at?(point: StepPoint, journalId: number): Promise<void> | void;
}

export type EngineClient = ResolveClient & Pick<ProxmoxClient, "waitTask">;

export interface EngineOptions {
  store: Store;
  /** Secrets params only name (executors.ts `ExecSecrets`); none held without it. */
  secrets?: ExecSecrets;
  client: EngineClient;
  gate: Gate;
  /** Global concurrency of mutations. */
  concurrency: number;
  clock: Clock;
  logger: Logger;
  /** Longest wait for one task; the task is not cancelled when it passes. Default 15 min. */
  taskDeadlineMs?: number;
  hooks?: EngineHooks;
  /** Runs when an operation reaches a terminal state (the daemon then passes again soon). */
  onSettled?: (status: OperationStatus) => void;
  /**
   * A guest's desired state right now, read when a local-API grow is journaled: the grow is
   * recorded as the guest's own request against it (docs/desired-state.md#the-guests-own-grows), in the intent's transaction.
   * Without it no override is recorded and the reconciler treats every grow as drift.
   */
  desiredGuest?: (vmid: number) => DesiredGuestSpec | undefined;
  /**
   * How long a mutation whose answer was lost stays unknown while the task list is searched
   * (docs/reconcile.md#lost-answers). Default 60 s.
   */
  unknownWindowMs?: number;
  /** Between two looks at the task list during that window. Default 2 s. */
  lostAnswerPollMs?: number;
  /** Knows the node's clock offset (from answers it read); else it is measured when needed. */
  clockOffset?: ClockOffsetSource;
  /**
   * A task waited on longer than this gives up its global concurrency slot, and is logged,
   * audited and listed by `hungTasks()` (docs/reconcile.md#hung-tasks). Default 90 s.
   */
  hungTaskMs?: number;
  /** Quick re-sends of a request refused with a transient 5xx (docs/reconcile.md). */
  quickRetry?: RetryPolicy;
  /** [0, 1): jitter of the quick re-sends. */
  random?: () => number;
  /**
   * What host operations that call Proxmox need (storage-executors.ts); without it they are
   * refused as `unsupported_operation` (docs/reconcile.md#host-operations).
   */
  hostOps?: HostOpDeps;
}

export interface Submitted {
  status: OperationStatus;
  /** Settles when the operation reaches a terminal state (or the engine stops waiting). */
  settled: Promise<OperationStatus>;
}

/**
 * The one seam every mutation enters through (OperationSubmitter): params validated, the gate
 * decides, the intent is journaled at once (its journal id is the operation's durable id),
 * then the per-guest queue runs it as POST → UPID → wait → terminal, each step durable before
 * the next (docs/architecture.md#mutations-are-journaled).
 */
export class Engine implements OperationSubmitter {
  readonly queue: GuestQueue;
  private readonly ops = new Map<string, OperationStatus>();
  private readonly stopping = new AbortController();
  private seq = 0;
  private readonly taskDeadlineMs: number;
  private readonly hung: HangWatch;
  /** Journal writes that keep guest identities in step with destroy, restore and provision. */
  private readonly lifecycle: ExecutionJournal;

  constructor(private readonly opts: EngineOptions) {
    this.queue = new GuestQueue(opts.concurrency);
    this.lifecycle = lifecycleJournal(opts.store);
    this.taskDeadlineMs = opts.taskDeadlineMs ?? 15 * 60_000;
    this.hung = new HangWatch({
      clock: opts.clock,
      logger: opts.logger,
      audit: opts.store.audit,
      afterMs: opts.hungTaskMs ?? 90_000,
    });
  }

  /** Tasks waited on past the hang deadline, still running (docs/reconcile.md#hung-tasks). */
  hungTasks(): HungTask[] {
    return this.hung.list();
  }

  async submit(req: OperationRequest): Promise<OperationStatus> {
    return (await this.enqueue(req)).status;
  }

  /**
   * Live operations from memory; everything else from the store, so an id handed out before
   * a restart still answers. A held operation's id follows its execution once released.
   */
  status(id: string): OperationStatus | undefined {
    const live = this.ops.get(id);
    if (live) return { ...live };
    const parsed = parseOperationId(id);
    if (parsed === undefined || parsed.kind === "transient") return undefined;
    const { store } = this.opts;
    if (parsed.kind === "journal") {
      const entry = store.journal.byId(parsed.journalId);
      return entry ? statusFromJournal(entry, id) : undefined;
    }
    const row = store.pending.byId(parsed.pendingId);
    if (row === undefined) return undefined;
    if (row.status === "released" && row.journalId !== null) {
      const followed = this.status(journalOperationId(row.journalId));
      if (followed) return { ...followed, id };
    }
    return statusFromPending(row);
  }

  /** Guests with work queued or running here, or left in flight in the journal. */
  busyGuests(): Set<number> {
    const busy = this.queue.busyGuests();
    for (const e of this.opts.store.journal.inFlight()) if (e.vmid !== null) busy.add(e.vmid);
    return busy;
  }

  /**
   * The id of the operation held for a signature (no hub job) that is exactly this request from
   * the same origin, if there is one. A reconcile pass that finds its action already waiting
   * does not submit it again, so one unsigned action is one held row and one audit row, not one
   * of each every pass (docs/reconcile.md#host-operations).
   */
  heldAs(req: Pick<OperationRequest, "op" | "vmid" | "params" | "origin">): string | undefined {
    let json: string;
    try {
      json = canonicalJson(req.params);
    } catch {
      return undefined;
    }
    return this.opts.store.pending
      .list({ status: "pending" })
      .find(
        (r) =>
          r.jobId === null &&
          r.origin === req.origin &&
          r.op === req.op &&
          r.vmid === (req.vmid ?? null) &&
          r.paramsJson === json,
      )?.id;
  }

  get journal(): Store["journal"] {
    return this.opts.store.journal;
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Stops taking work: queued operations are dropped (never started; their journaled intent
   * ends `abandoned`), and running ones stop waiting once their UPID is journaled, so the next
   * start resumes them.
   */
  async stop(): Promise<void> {
    this.stopping.abort(new Error("felhom-agent is shutting down"));
    this.queue.close();
    await this.queue.idle();
  }

  async enqueue(req: OperationRequest, attempt = 1): Promise<Submitted> {
    const now = this.opts.clock.now();
    const base = {
      op: req.op,
      ...(req.vmid !== undefined ? { vmid: req.vmid } : {}),
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    const same = this.sameJob(req);
    if (same) return { status: same, settled: this.settledOf(same) };
    const host = hostExecutorFor(req.op);
    if (host !== undefined && req.vmid === undefined) return this.runHostOp(base, req, host);
    const apiHost = apiHostExecutorFor(req.op);
    if (apiHost !== undefined && req.vmid === undefined && this.opts.hostOps !== undefined) {
      const deps = { ...this.opts.hostOps, journal: this.opts.store.journal };
      return this.runApiHostOp(base, req, apiHost, deps, attempt);
    }
    const exec = executorFor(req.op);
    // Refused before the gate: a signature for an operation this agent cannot run, or with
    // params it cannot parse, must not be recorded as accepted, nor its nonce spent. The
    // refusal is audited all the same.
    if (exec === undefined || (req.op.startsWith("guest.") && req.vmid === undefined)) {
      return this.refuse(base, req, "unsupported_operation", `unsupported_operation: ${req.op}`);
    }
    const params = this.checkParams(exec, req);
    if (typeof params === "string") return this.refuse(base, req, "invalid_params", params);
    const decision = await this.opts.gate.decide(
      req,
      await gateFacts(req, params, {
        store: this.opts.store,
        client: this.opts.client,
        ...(this.opts.desiredGuest ? { desiredGuest: this.opts.desiredGuest } : {}),
      }),
    );
    const notAdmitted = this.notAdmitted(base, decision);
    if (notAdmitted) return notAdmitted;
    if (req.vmid === undefined) {
      return this.finished(base, "rejected", `unsupported_operation: ${req.op}`);
    }
    if (this.stopped) return this.finished(base, "failed", "shutting_down");
    const vmid = req.vmid;
    const grows = this.opts.desiredGuest
      ? growOverrides(req, params, this.opts.desiredGuest(vmid))
      : [];
    const intentOutcome = this.journalIntent(
      decision,
      {
        vmid,
        op: req.op,
        params,
        origin: req.origin,
        jobId: req.jobId ?? null,
        attempts: attempt,
        ...(exec.provenance
          ? { provenance: exec.provenance(vmid, params as never, { origin: req.origin }) }
          : {}),
      },
      grows,
    );
    if (intentOutcome.kind === "refused") {
      return this.finished(base, "rejected", intentOutcome.message);
    }
    const { journalId } = intentOutcome;
    const status: OperationStatus = {
      ...base,
      id: journalOperationId(journalId),
      state: "queued",
    };
    this.track(status);
    const lane = req.priority === "interactive" ? "interactive" : "background";
    const settled = this.queue
      .run(vmid, lane, (slot) =>
        this.execute(status, exec, journalId, { ...req, params }, vmid, slot),
      )
      .catch((err: unknown) => {
        if (err instanceof QueueClosedError) {
          this.abandonUnstarted(journalId);
          this.update(status, "failed", "shutting_down");
        } else {
          this.update(status, "failed", (err as Error).message);
        }
        return { ...status };
      });
    return { status: { ...status }, settled };
  }

  /**
   * Resolves journal entries left in flight (crash recovery at start-up, or a POST whose answer
   * was lost) and waits, through the queue, for tasks still running. Call before any mutation.
   */
  async resolve(label: string): Promise<Resolution[]> {
    const out: Resolution[] = [];
    const queued = this.queue.busyGuests();
    for (const entry of this.opts.store.journal.inFlight()) {
      if (entry.vmid !== null && queued.has(entry.vmid)) continue;
      const apiHost = entry.vmid === null ? apiHostExecutorFor(entry.op) : undefined;
      if (apiHost !== undefined && this.opts.hostOps !== undefined) {
        if (this.hostBusy) continue;
        const deps = { ...this.opts.hostOps, journal: this.opts.store.journal };
        out.push(await this.resolveHostEntry(entry, apiHost, deps, label));
        continue;
      }
      const r = await resolveInFlight(
        this.opts.client,
        this.lifecycle,
        entry,
        label,
        lostAnswerRules(this.lostAnswerDeps()),
      );
      out.push(r);
      this.opts.logger.info("journal entry resolved", {
        journal: entry.id,
        op: entry.op,
        vmid: entry.vmid,
        phase: entry.phase,
        resolution: r.kind,
        how: r.how,
      });
      const id = journalOperationId(entry.id);
      const exec = executorFor(entry.op);
      const params = entry.params as Record<string, unknown>;
      if (r.kind === "unknown") {
        // Its task may still appear: keep looking, in the guest's lane, until it is decided.
        const status = statusFromJournal(entry, id);
        if (status === undefined || exec === undefined || entry.vmid === null) continue;
        status.state = "running";
        status.reason = "unknown_outcome: searching the task list";
        this.track(status);
        const vmid = entry.vmid;
        void this.queue
          .run(vmid, "interactive", (slot) =>
            this.settleLost(status, entry.id, label, exec, vmid, params, slot),
          )
          .catch(() => {});
        continue;
      }
      if (r.kind !== "resume_wait") {
        const settled = this.status(id);
        if (settled) this.opts.onSettled?.(settled);
        continue;
      }
      const status = statusFromJournal({ ...entry, phase: "posted", upid: r.upid }, id);
      if (status === undefined) continue;
      status.state = "running";
      this.track(status);
      void this.queue
        .run(entry.vmid ?? HOST_KEY, "interactive", (slot) =>
          this.waitAndRecord(status, entry.id, r.upid, r.how, exec, entry.vmid, params, slot),
        )
        .catch(() => {});
    }
    return out;
  }

  /**
   * A request with a hub job id that this store already knows is that same job (the hub sends
   * a job again after an agent crash, and again with a signed envelope for a held one): it
   * answers with the job's existing operation and starts nothing new. Only a held job that
   * now carries an envelope goes on to the gate, which releases the held row.
   */
  private sameJob(req: OperationRequest): OperationStatus | undefined {
    if (req.jobId === undefined) return undefined;
    const { store } = this.opts;
    const entries = store.journal.forJob(req.jobId);
    const last = entries.at(-1);
    if (last) return this.status(journalOperationId(last.id));
    const held = store.pending.byJob(req.jobId);
    if (held === undefined) return undefined;
    if (held.status === "pending" && req.envelope !== undefined) return undefined;
    return this.status(held.id);
  }

  /** Live operations settle through the queue; anything else is as settled as it gets. */
  private settledOf(status: OperationStatus): Promise<OperationStatus> {
    return Promise.resolve({ ...status });
  }

  /**
   * The intent, durable before anything is queued, with the guest's own grows it carries in
   * the same transaction (a crash cannot keep one without the other), or why it was refused.
   */
  private journalIntent(
    decision: GateDecision,
    intent: IntentInput,
    grows: readonly Omit<OverrideInput, "journalId">[],
  ): IntentOutcome {
    const { store } = this.opts;
    try {
      return store.transaction(() => {
        const outcome = this.recordIntent(decision, intent);
        if (outcome.kind === "recorded") {
          for (const g of grows) {
            store.guestOverrides.record({ ...g, journalId: outcome.journalId });
          }
        }
        return outcome;
      });
    } catch (err) {
      return notRecorded(err);
    }
  }

  private recordIntent(decision: GateDecision, intent: IntentInput): IntentOutcome {
    const { gate, store } = this.opts;
    if (decision.outcome === "allowed" && gate.recordIntent === undefined) {
      return recorded(store.journal.recordIntent(intent));
    }
    if (gate.recordIntent === undefined) {
      return refused("unsigned_gate", "this gate cannot journal a signed operation; refused");
    }
    const r = gate.recordIntent(decision, intent);
    return r.ok
      ? recorded(r.journalId)
      : refused("replay", "replay: the signature's nonce was used already");
  }

  private abandonUnstarted(
    journalId: number,
    resolution = "the agent stopped before the operation started; nothing was sent",
  ): void {
    try {
      this.opts.store.journal.recordTerminal(journalId, "abandoned", { resolution });
    } catch {
      // The store is closing; recovery at the next start finds no task and abandons it.
    }
  }

  private async execute(
    status: OperationStatus,
    exec: OpExecutor<ExecOp>,
    id: number,
    req: OperationRequest,
    vmid: number,
    slot: Slot,
  ): Promise<OperationStatus> {
    if (this.stopped) {
      this.abandonUnstarted(id);
      this.update(status, "failed", "shutting_down");
      return { ...status };
    }
    const journal = this.lifecycle;
    const log = this.opts.logger.child({ op: req.op, vmid, origin: req.origin });
    this.update(status, "running");
    await this.opts.hooks?.at?.("intent", id);
    // A refusal that ran nothing is sent again within seconds, not after the reconciler's
    // back-off (docs/reconcile.md#transient-refusals).
    const sent = await sendWithQuickRetry(
      () => exec.post(this.opts.client, vmid, req.params as never, undefined, this.opts.secrets),
      {
        policy: this.opts.quickRetry ?? defaultQuickRetry,
        random: this.opts.random ?? Math.random,
        clock: this.opts.clock,
        signal: this.stopping.signal,
        settles: (err) => exec.alreadyDone(err),
        onRetry: (err, retry, delayMs) =>
          log.warn("request refused with a transient error; sending it again shortly", {
            journal: id,
            error: (err as Error).message,
            retry,
            delay_ms: delayMs,
          }),
      },
    );
    if (sent.kind === "stopped") {
      this.abandonUnstarted(
        id,
        "the agent stopped between re-sends of a refused request; nothing ran",
      );
      this.update(status, "failed", "shutting_down");
      return { ...status };
    }
    if (sent.kind === "failed") {
      return this.postFailed(status, id, exec, sent.error, log, vmid, req.params, slot);
    }
    const upid = sent.value;
    await this.opts.hooks?.at?.("post_returned", id);
    if (upid === null) {
      journal.recordTerminal(id, "done", { resolution: "synchronous call returned" });
      log.info("operation done", { journal: id });
      this.update(status, "done");
      return { ...status };
    }
    journal.recordUpid(id, upid);
    status.upid = upid;
    await this.opts.hooks?.at?.("upid", id);
    return this.waitAndRecord(status, id, upid, "task", exec, vmid, req.params, slot);
  }

  private async postFailed(
    status: OperationStatus,
    id: number,
    exec: OpExecutor<ExecOp>,
    err: unknown,
    log: Logger,
    vmid: number,
    params: Record<string, unknown>,
    slot: Slot,
  ): Promise<OperationStatus> {
    const journal = this.lifecycle;
    if (exec.alreadyDone(err)) {
      journal.recordTerminal(id, "done", {
        resolution: `already so: ${(err as Error).message}`.slice(0, 1024),
      });
      this.update(status, "done");
      return { ...status };
    }
    const failure = classifyFailure(err);
    if (failure.class === "unknown_outcome") {
      log.warn("the answer to a mutating request was lost; checking what happened", {
        journal: id,
        cause: failure.cause,
      });
      this.update(status, "running", "unknown_outcome: searching the task list");
      return this.settleLost(
        status,
        id,
        `answer lost (${failure.cause})`,
        exec,
        vmid,
        params,
        slot,
      );
    }
    journal.recordTerminal(id, "failed", {
      error: { class: failure.class, cause: failure.cause, ...failure.detail },
    });
    log.warn("operation failed", { journal: id, cause: failure.cause, error: failure.message });
    this.update(status, "failed", `${failure.cause}: ${failure.message}`);
    return { ...status };
  }

  private async waitAndRecord(
    status: OperationStatus,
    id: number,
    upid: string,
    how: string,
    exec: OpExecutor<ExecOp> | undefined,
    vmid: number | null,
    params: Record<string, unknown>,
    slot: Slot,
  ): Promise<OperationStatus> {
    const journal = this.lifecycle;
    status.upid = upid;
    this.update(status, "running");
    const endHangWatch = this.hung.watch(slot, { journalId: id, op: status.op, vmid, upid });
    try {
      const result = await this.opts.client.waitTask(upid, {
        deadlineMs: this.taskDeadlineMs,
        signal: this.stopping.signal,
      });
      endHangWatch();
      await this.opts.hooks?.at?.("task_done", id);
      const outcome =
        exec?.result && vmid !== null
          ? await exec
              .result(this.opts.client, vmid, exec.parseParams(params), upid)
              .catch(() => undefined)
          : undefined;
      journal.recordTerminal(id, "done", {
        resolution: resolutionWithResult(`${how}: ended ${result.exitstatus}`, outcome),
      });
      if (outcome) status.result = outcome;
      this.update(status, "done");
    } catch (err) {
      endHangWatch();
      if (err instanceof TaskWaitAbortedError) {
        // Left `posted` on purpose: the next start reads the task once and resumes.
        this.opts.logger.info("stopped waiting for a task; it is journaled and resumes at start", {
          journal: id,
          upid,
        });
        return { ...status };
      }
      const failure = classifyFailure(err);
      if (failure.cause === "task_timeout" || failure.class === "unknown_outcome") {
        // The task may still finish: stay `posted`; each pass re-reads it (resolve()).
        this.update(status, "running", failure.message);
        return { ...status };
      }
      journal.recordTerminal(id, "failed", {
        error: { class: failure.class, cause: failure.cause, ...failure.detail },
        resolution: `${how}: failed`,
      });
      this.opts.logger.warn("operation failed", {
        journal: id,
        upid,
        cause: failure.cause,
        error: failure.message,
      });
      this.update(status, "failed", `${failure.cause}: ${failure.message}`);
    }
    return { ...status };
  }

  private lostAnswerDeps(): LostAnswerDeps {
    return {
      client: this.opts.client,
      journal: this.lifecycle,
      clock: this.opts.clock,
      windowMs: this.opts.unknownWindowMs ?? 60_000,
      pollMs: this.opts.lostAnswerPollMs ?? 2_000,
      ...(this.opts.clockOffset ? { offsetSource: this.opts.clockOffset } : {}),
    };
  }

  /**
   * A POST whose answer was lost: look for its task until it is found or the window has
   * passed (docs/reconcile.md#lost-answers). The entry stays in flight, and its guest busy,
   * until then; nothing is re-sent here.
   */
  private async settleLost(
    status: OperationStatus,
    id: number,
    label: string,
    exec: OpExecutor<ExecOp>,
    vmid: number,
    params: Record<string, unknown>,
    slot: Slot,
  ): Promise<OperationStatus> {
    const r = await awaitLostAnswer(this.lostAnswerDeps(), id, label, this.stopping.signal);
    this.opts.logger.info("lost answer settled", { journal: id, vmid, outcome: r.kind });
    switch (r.kind) {
      case "resume_wait":
        status.upid = r.upid;
        return this.waitAndRecord(status, id, r.upid, r.how, exec, vmid, params, slot);
      case "stopped":
        return { ...status };
      case "unreachable":
        // Still unknown: the entry stays in flight and blocks its guest until a pass settles it.
        this.update(status, "failed", "unknown_outcome: Proxmox could not be read");
        return { ...status };
      default:
        this.update(status, r.kind === "done" ? "done" : "failed", r.how);
        return { ...status };
    }
  }

  /**
   * A host-level operation the agent carries out in its own store (host-executors.ts): gated
   * like any other, then journaled intent → done in the one transaction that makes the change.
   */
  private async runHostOp(
    base: Omit<OperationStatus, "id" | "state">,
    req: OperationRequest,
    host: HostExecutor<unknown>,
  ): Promise<Submitted> {
    const params = this.checkParams(host, req);
    if (typeof params === "string") return this.refuse(base, req, "invalid_params", params);
    const refusal = host.admit?.(this.opts.store, params, this.opts.clock.now());
    if (refusal) return this.refuse(base, req, refusal.code, `${refusal.code}: ${refusal.message}`);
    const decision = await this.opts.gate.decide(req, { journal: this.opts.store.journal });
    const notAdmitted = this.notAdmitted(base, decision);
    if (notAdmitted) return notAdmitted;
    if (this.stopped) return this.finished(base, "failed", "shutting_down");
    const { store } = this.opts;
    let intentOutcome: IntentOutcome;
    try {
      intentOutcome = store.transaction(() => {
        const outcome = this.recordIntent(decision, {
          op: req.op,
          params,
          origin: req.origin,
          jobId: req.jobId ?? null,
        });
        if (outcome.kind === "refused") return outcome;
        const result = host.apply(store, params, outcome.journalId);
        store.journal.recordTerminal(outcome.journalId, "done", {
          resolution: resolutionWithResult("recorded by the agent", result),
        });
        return outcome;
      });
    } catch (err) {
      intentOutcome = notRecorded(err);
    }
    if (intentOutcome.kind === "refused") {
      return this.finished(base, "rejected", intentOutcome.message);
    }
    const status = this.status(journalOperationId(intentOutcome.journalId)) as OperationStatus;
    this.track(status);
    this.opts.onSettled?.({ ...status });
    return { status: { ...status }, settled: Promise.resolve({ ...status }) };
  }

  /** Host operations that call Proxmox running or queued in this process (one at a time). */
  private hostRunning = 0;

  private get hostBusy(): boolean {
    return this.hostRunning > 0;
  }

  /**
   * A host-level operation that calls Proxmox (storage-executors.ts): gated, journaled intent,
   * run on the host lane of the queue, then terminal; an entry a crash left at `intent` is
   * settled from Proxmox's state at the next start (resolveHostEntry).
   */
  private async runApiHostOp(
    base: Omit<OperationStatus, "id" | "state">,
    req: OperationRequest,
    exec: ApiHostExecutor<unknown>,
    deps: HostOpDeps,
    attempt: number,
  ): Promise<Submitted> {
    const params = this.checkParams(exec, req);
    if (typeof params === "string") return this.refuse(base, req, "invalid_params", params);
    const storage =
      req.op === "storage.add"
        ? await storageFact(deps, this.opts.store.journal, params as never)
        : undefined;
    const decision = await this.opts.gate.decide(req, {
      journal: this.opts.store.journal,
      ...(storage !== undefined ? { storage } : {}),
    });
    const notAdmitted = this.notAdmitted(base, decision);
    if (notAdmitted) return notAdmitted;
    if (this.stopped) return this.finished(base, "failed", "shutting_down");
    const outcome = this.journalIntent(
      decision,
      {
        op: req.op,
        params,
        origin: req.origin,
        jobId: req.jobId ?? null,
        attempts: attempt,
      },
      [],
    );
    if (outcome.kind === "refused") return this.finished(base, "rejected", outcome.message);
    const { journalId } = outcome;
    const status: OperationStatus = { ...base, id: journalOperationId(journalId), state: "queued" };
    this.track(status);
    const lane = req.priority === "interactive" ? "interactive" : "background";
    this.hostRunning++;
    const settled = this.queue
      .run(HOST_KEY, lane, () => this.executeHost(status, journalId, exec, deps, params))
      .catch((err: unknown) => {
        if (err instanceof QueueClosedError) {
          this.abandonUnstarted(journalId);
          this.update(status, "failed", "shutting_down");
        } else {
          this.update(status, "failed", (err as Error).message);
        }
        return { ...status };
      })
      .finally(() => {
        this.hostRunning--;
      });
    return { status: { ...status }, settled };
  }

  private async executeHost(
    status: OperationStatus,
    id: number,
    exec: ApiHostExecutor<unknown>,
    deps: HostOpDeps,
    params: unknown,
  ): Promise<OperationStatus> {
    if (this.stopped) {
      this.abandonUnstarted(id);
      this.update(status, "failed", "shutting_down");
      return { ...status };
    }
    this.update(status, "running");
    await this.opts.hooks?.at?.("intent", id);
    const outcome = await runHostSteps(exec, deps, params, id, {
      journal: this.opts.store.journal,
      logger: this.opts.logger.child({ op: status.op, subject: exec.subject(params) }),
      step: (point) => Promise.resolve(this.opts.hooks?.at?.(point, id)),
    });
    if (outcome.state === "done") status.result = outcome.result;
    this.update(status, outcome.state, outcome.reason);
    return { ...status };
  }

  /** A host operation a crash left in flight, settled from Proxmox (host-op-steps.ts). */
  private async resolveHostEntry(
    entry: ReturnType<Store["journal"]["inFlight"]>[number],
    exec: ApiHostExecutor<unknown>,
    deps: HostOpDeps,
    label: string,
  ): Promise<Resolution> {
    const r = await settleHostEntry(entry, exec, deps, this.opts.store.journal, label);
    this.opts.logger.info("journal entry resolved", {
      journal: entry.id,
      op: entry.op,
      phase: entry.phase,
      resolution: r.kind,
    });
    const settled = this.status(journalOperationId(entry.id));
    if (settled) this.opts.onSettled?.(settled);
    return r;
  }

  /** The request's params through the operation's one schema, or the `invalid_params` text. */
  private checkParams(
    exec: { parseParams(raw: unknown): unknown },
    req: OperationRequest,
  ): Record<string, unknown> | string {
    try {
      return exec.parseParams(req.params) as unknown as Record<string, unknown>;
    } catch (err) {
      const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
      const text = issues
        ? issues.map((i) => `${i.path.map(String).join(".") || "params"}: ${i.message}`).join("; ")
        : (err as Error).message;
      return `invalid_params: ${text}`;
    }
  }

  /**
   * What the caller gets when the gate did not allow the operation (guest and host operations
   * alike): the held operation's status, or a rejection. Undefined when it was allowed.
   */
  private notAdmitted(
    base: Omit<OperationStatus, "id" | "state">,
    decision: GateDecision,
  ): Submitted | undefined {
    if (decision.outcome === "pending_signature") {
      const held = decision.pendingId ? this.status(decision.pendingId) : undefined;
      if (held) return { status: held, settled: Promise.resolve({ ...held }) };
      return this.finished(base, "rejected", "held, but the gate named no held operation");
    }
    if (decision.outcome === "rejected") {
      return this.finished(base, "rejected", decision.reason ?? "rejected by the gate");
    }
    return undefined;
  }

  /** A refusal before the gate, audited like a gate decision. */
  private refuse(
    base: Omit<OperationStatus, "id" | "state">,
    req: OperationRequest,
    code: string,
    reason: string,
  ): Submitted {
    this.opts.store.audit.append({
      actor: requestActor(req),
      action: req.op,
      target: targetOf(req.vmid),
      outcome: `rejected:${code}`,
      details: { origin: req.origin, ...(req.jobId !== undefined ? { job: req.jobId } : {}) },
    });
    return this.finished(base, "rejected", reason);
  }

  /** Refused before anything was recorded: the id is known to this process only. */
  private finished(
    base: Omit<OperationStatus, "id" | "state">,
    state: OperationState,
    reason: string,
  ): Submitted {
    this.seq++;
    const id = `rj-${this.opts.clock.now().toString(36)}-${this.seq}`;
    const status: OperationStatus = { ...base, id, state, reason };
    this.track(status);
    return { status: { ...status }, settled: Promise.resolve({ ...status }) };
  }

  private update(status: OperationStatus, state: OperationState, reason?: string): void {
    status.state = state;
    if (reason !== undefined) status.reason = reason;
    status.updatedAt = new Date(this.opts.clock.now()).toISOString();
    if (TERMINAL_STATES.has(state)) this.opts.onSettled?.({ ...status });
  }

  private track(status: OperationStatus): void {
    if (this.ops.size >= MAX_TRACKED) this.forgetSettled();
    this.ops.set(status.id, status);
  }

  /** Settled operations leave memory first; the store still answers for journaled ones. */
  private forgetSettled(): void {
    for (const [id, s] of this.ops) {
      if (this.ops.size <= MAX_TRACKED / 2) break;
      if (TERMINAL_STATES.has(s.state)) this.ops.delete(id);
    }
  }
}

/** The store could not write the intent: the operation is refused and nothing was sent. */
function notRecorded(err: unknown): IntentOutcome {
  return refused("not_recorded", `not_recorded: ${(err as Error).message}`);
}
