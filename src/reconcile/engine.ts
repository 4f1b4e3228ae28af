import { requestActor, targetOf } from "../gate/actor.ts";
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
import type { Clock } from "../util/clock.ts";
import type { DesiredGuestSpec } from "./desired-state.ts";
import { type ExecOp, executorFor, type OpExecutor } from "./executors.ts";
import { classifyFailure } from "./failure.ts";
import type { Gate, GateDecision } from "./gate-seam.ts";
import { GuestQueue, HOST_KEY, QueueClosedError } from "./guest-queue.ts";
import {
  journalOperationId,
  parseOperationId,
  resolutionWithResult,
  statusFromJournal,
  statusFromPending,
} from "./operation-ids.ts";
import { growOverrides } from "./overrides.ts";
import { type Resolution, type ResolveClient, resolveInFlight } from "./resolve-in-flight.ts";

/** Operation statuses kept in memory for `status(id)`; the store answers for the rest. */
const MAX_TRACKED = 10_000;
const TERMINAL_STATES = new Set<OperationState>(["done", "failed", "rejected"]);

/**
 * The instants between the durable steps of one operation. Tests stop the process at each
 * one to prove recovery (test/daemon); production passes no hooks.
 */
export type StepPoint = "intent" | "post_returned" | "upid" | "task_done";

export interface EngineHooks {
  at?(point: StepPoint, journalId: number): Promise<void> | void;
}

export type EngineClient = ResolveClient & Pick<ProxmoxClient, "waitTask">;

export interface EngineOptions {
  store: Store;
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

  constructor(private readonly opts: EngineOptions) {
    this.queue = new GuestQueue(opts.concurrency);
    this.taskDeadlineMs = opts.taskDeadlineMs ?? 15 * 60_000;
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
    const exec = executorFor(req.op);
    // Refused before the gate: a signature for an operation this agent cannot run, or with
    // params it cannot parse, must not be recorded as accepted, nor its nonce spent. The
    // refusal is audited all the same.
    if (exec === undefined || (req.op.startsWith("guest.") && req.vmid === undefined)) {
      return this.refuse(base, req, "unsupported_operation", `unsupported_operation: ${req.op}`);
    }
    const params = this.checkParams(exec, req);
    if (typeof params === "string") return this.refuse(base, req, "invalid_params", params);
    const decision = await this.opts.gate.decide(req, { journal: this.opts.store.journal });
    if (decision.outcome === "pending_signature") {
      const held = decision.pendingId ? this.status(decision.pendingId) : undefined;
      if (held) return { status: held, settled: Promise.resolve({ ...held }) };
      return this.finished(base, "rejected", "held, but the gate named no held operation");
    }
    if (decision.outcome === "rejected") {
      return this.finished(base, "rejected", decision.reason ?? "rejected by the gate");
    }
    if (req.vmid === undefined) {
      return this.finished(base, "rejected", `unsupported_operation: ${req.op}`);
    }
    if (this.stopped) return this.finished(base, "failed", "shutting_down");
    const vmid = req.vmid;
    const grows = this.opts.desiredGuest
      ? growOverrides(req, params, this.opts.desiredGuest(vmid))
      : [];
    const journalId = this.journalIntent(
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
    if (typeof journalId === "string") return this.finished(base, "rejected", journalId);
    const status: OperationStatus = {
      ...base,
      id: journalOperationId(journalId),
      state: "queued",
    };
    this.track(status);
    const lane = req.priority === "interactive" ? "interactive" : "background";
    const settled = this.queue
      .run(vmid, lane, () => this.execute(status, exec, journalId, { ...req, params }, vmid))
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
      const r = await resolveInFlight(this.opts.client, this.opts.store.journal, entry, label);
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
      if (r.kind !== "resume_wait") {
        const settled = this.status(id);
        if (settled) this.opts.onSettled?.(settled);
        continue;
      }
      const status = statusFromJournal({ ...entry, phase: "posted", upid: r.upid }, id);
      if (status === undefined) continue;
      status.state = "running";
      this.track(status);
      const exec = executorFor(entry.op);
      const params = entry.params as Record<string, unknown>;
      void this.queue
        .run(entry.vmid ?? HOST_KEY, "interactive", () =>
          this.waitAndRecord(status, entry.id, r.upid, r.how, exec, entry.vmid, params),
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
   * the same transaction (a crash cannot keep one without the other); a string is why it was
   * refused.
   */
  private journalIntent(
    decision: GateDecision,
    intent: IntentInput,
    grows: readonly Omit<OverrideInput, "journalId">[],
  ): number | string {
    const { store } = this.opts;
    try {
      return store.transaction(() => {
        const id = this.recordIntent(decision, intent);
        if (typeof id === "number") {
          for (const g of grows) store.guestOverrides.record({ ...g, journalId: id });
        }
        return id;
      });
    } catch (err) {
      return `not_recorded: ${(err as Error).message}`;
    }
  }

  private recordIntent(decision: GateDecision, intent: IntentInput): number | string {
    const { gate, store } = this.opts;
    if (decision.outcome === "allowed" && gate.recordIntent === undefined) {
      return store.journal.recordIntent(intent);
    }
    if (gate.recordIntent === undefined) {
      return "this gate cannot journal a signed operation; refused";
    }
    const r = gate.recordIntent(decision, intent);
    return r.ok ? r.journalId : `replay: the signature's nonce was used already`;
  }

  private abandonUnstarted(journalId: number): void {
    try {
      this.opts.store.journal.recordTerminal(journalId, "abandoned", {
        resolution: "the agent stopped before the operation started; nothing was sent",
      });
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
  ): Promise<OperationStatus> {
    if (this.stopped) {
      this.abandonUnstarted(id);
      this.update(status, "failed", "shutting_down");
      return { ...status };
    }
    const { journal } = this.opts.store;
    const log = this.opts.logger.child({ op: req.op, vmid, origin: req.origin });
    this.update(status, "running");
    await this.opts.hooks?.at?.("intent", id);
    let upid: string | null;
    try {
      upid = await exec.post(this.opts.client, vmid, req.params as never);
    } catch (err) {
      return this.postFailed(status, id, exec, err, log, vmid, req.params);
    }
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
    return this.waitAndRecord(status, id, upid, "task", exec, vmid, req.params);
  }

  private async postFailed(
    status: OperationStatus,
    id: number,
    exec: OpExecutor<ExecOp>,
    err: unknown,
    log: Logger,
    vmid: number,
    params: Record<string, unknown>,
  ): Promise<OperationStatus> {
    const { journal } = this.opts.store;
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
      const entry = journal.byId(id);
      if (entry === undefined) throw err;
      let r: Resolution;
      try {
        r = await resolveInFlight(
          this.opts.client,
          journal,
          entry,
          `answer lost (${failure.cause})`,
        );
      } catch {
        // Still unknown: the entry stays in flight and blocks its guest until resolved.
        this.update(status, "failed", `unknown_outcome: ${failure.cause}`);
        return { ...status };
      }
      if (r.kind === "resume_wait") {
        status.upid = r.upid;
        return this.waitAndRecord(status, id, r.upid, r.how, exec, vmid, params);
      }
      this.update(status, r.kind === "done" ? "done" : "failed", r.how);
      return { ...status };
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
  ): Promise<OperationStatus> {
    const { journal } = this.opts.store;
    status.upid = upid;
    this.update(status, "running");
    try {
      const result = await this.opts.client.waitTask(upid, {
        deadlineMs: this.taskDeadlineMs,
        signal: this.stopping.signal,
      });
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

  private checkParams(
    exec: OpExecutor<ExecOp>,
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
