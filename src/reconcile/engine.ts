import type { Logger } from "../log/types.ts";
import type {
  OperationRequest,
  OperationState,
  OperationStatus,
  OperationSubmitter,
} from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { TaskWaitAbortedError } from "../proxmox/task-error.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import { type ActionOp, isActionOp } from "./actions.ts";
import { EXECUTORS, type OpExecutor } from "./executors.ts";
import { classifyFailure } from "./failure.ts";
import type { Gate } from "./gate-seam.ts";
import { GuestQueue, HOST_KEY, QueueClosedError } from "./guest-queue.ts";
import { type Resolution, type ResolveClient, resolveInFlight } from "./resolve-in-flight.ts";

/** Operation statuses kept in memory for `status(id)`; the journal keeps the history. */
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
}

export interface Submitted {
  status: OperationStatus;
  /** Settles when the operation reaches a terminal state (or the engine stops waiting). */
  settled: Promise<OperationStatus>;
}

/**
 * The one seam every mutation enters through (OperationSubmitter): params validated, the gate
 * decides, then the per-guest queue runs it as journal intent → POST → UPID → wait → terminal,
 * each step durable before the next (DESIGN §2.3).
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

  status(id: string): OperationStatus | undefined {
    const s = this.ops.get(id);
    return s ? { ...s } : undefined;
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
   * Stops taking work: queued operations are dropped (never started, nothing journaled), and
   * running ones stop waiting once their UPID is journaled, so the next start resumes them.
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
    const exec = isActionOp(req.op)
      ? (EXECUTORS[req.op] as unknown as OpExecutor<ActionOp>)
      : undefined;
    let params: Record<string, unknown> = req.params;
    if (exec !== undefined) {
      const problem = this.checkParams(exec, req);
      if (typeof problem === "string") return this.finished(base, "rejected", problem);
      params = problem;
    }
    const decision = await this.opts.gate.decide(req, { journal: this.opts.store.journal });
    if (decision.outcome === "pending_signature") {
      const status: OperationStatus = {
        ...base,
        id: decision.pendingId ?? this.nextId(),
        state: "pending_signature",
        ...(decision.reason ? { reason: decision.reason } : {}),
      };
      this.ops.set(status.id, status);
      return { status: { ...status }, settled: Promise.resolve({ ...status }) };
    }
    if (decision.outcome === "rejected") {
      return this.finished(base, "rejected", decision.reason ?? "rejected by the gate");
    }
    if (exec === undefined || req.vmid === undefined) {
      return this.finished(base, "rejected", `unsupported_operation: ${req.op}`);
    }
    if (this.stopped) return this.finished(base, "failed", "shutting_down");
    const status: OperationStatus = { ...base, id: this.nextId(), state: "queued" };
    this.ops.set(status.id, status);
    const vmid = req.vmid;
    const lane = req.priority === "interactive" ? "interactive" : "background";
    const settled = this.queue
      .run(vmid ?? HOST_KEY, lane, () =>
        this.execute(status, exec, { ...req, params }, vmid, attempt),
      )
      .catch((err: unknown) => {
        if (err instanceof QueueClosedError) this.update(status, "failed", "shutting_down");
        else this.update(status, "failed", (err as Error).message);
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
      if (r.kind === "resume_wait") {
        const status: OperationStatus = {
          id: this.nextId(),
          op: entry.op as ActionOp,
          ...(entry.vmid !== null ? { vmid: entry.vmid } : {}),
          state: "running",
          upid: r.upid,
          createdAt: new Date(entry.createdAt).toISOString(),
          updatedAt: new Date(this.opts.clock.now()).toISOString(),
        };
        this.ops.set(status.id, status);
        void this.queue
          .run(entry.vmid ?? HOST_KEY, "interactive", () =>
            this.waitAndRecord(status, entry.id, r.upid, r.how),
          )
          .catch(() => {});
      }
    }
    return out;
  }

  private async execute(
    status: OperationStatus,
    exec: OpExecutor<ActionOp>,
    req: OperationRequest,
    vmid: number,
    attempt: number,
  ): Promise<OperationStatus> {
    if (this.stopped) {
      this.update(status, "failed", "shutting_down");
      return { ...status };
    }
    const { journal } = this.opts.store;
    const log = this.opts.logger.child({ op: req.op, vmid, origin: req.origin });
    const id = journal.recordIntent({
      vmid,
      op: req.op,
      params: req.params,
      origin: req.origin,
      jobId: req.jobId ?? null,
      attempts: attempt,
    });
    this.update(status, "running");
    await this.opts.hooks?.at?.("intent", id);
    let upid: string | null;
    try {
      // biome-ignore lint/suspicious/noExplicitAny: params were parsed by this executor
      upid = await exec.post(this.opts.client, vmid, req.params as any);
    } catch (err) {
      return this.postFailed(status, id, exec, err, log);
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
    return this.waitAndRecord(status, id, upid, "task");
  }

  private async postFailed(
    status: OperationStatus,
    id: number,
    exec: OpExecutor<ActionOp>,
    err: unknown,
    log: Logger,
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
        return this.waitAndRecord(status, id, r.upid, r.how);
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
      journal.recordTerminal(id, "done", {
        resolution: `${how}: ended ${result.exitstatus}`.slice(0, 1024),
      });
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
    exec: OpExecutor<ActionOp>,
    req: OperationRequest,
  ): Record<string, unknown> | string {
    try {
      return exec.parseParams(req.params) as Record<string, unknown>;
    } catch (err) {
      const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
      const text = issues
        ? issues.map((i) => `${i.path.map(String).join(".") || "params"}: ${i.message}`).join("; ")
        : (err as Error).message;
      return `invalid_params: ${text}`;
    }
  }

  private finished(
    base: Omit<OperationStatus, "id" | "state">,
    state: OperationState,
    reason: string,
  ): Submitted {
    const status: OperationStatus = { ...base, id: this.nextId(), state, reason };
    this.ops.set(status.id, status);
    return { status: { ...status }, settled: Promise.resolve({ ...status }) };
  }

  private update(status: OperationStatus, state: OperationState, reason?: string): void {
    status.state = state;
    if (reason !== undefined) status.reason = reason;
    status.updatedAt = new Date(this.opts.clock.now()).toISOString();
    if (TERMINAL_STATES.has(state)) this.opts.onSettled?.({ ...status });
  }

  private nextId(): string {
    this.seq++;
    if (this.ops.size > MAX_TRACKED) this.forgetOldest();
    return `op-${this.opts.clock.now().toString(36)}-${this.seq}`;
  }

  private forgetOldest(): void {
    for (const [id, s] of this.ops) {
      if (this.ops.size <= MAX_TRACKED / 2) break;
      if (TERMINAL_STATES.has(s.state)) this.ops.delete(id);
    }
  }
}
