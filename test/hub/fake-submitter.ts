import type {
  OperationRequest,
  OperationState,
  OperationStatus,
  OperationSubmitter,
} from "../../src/ops/types.ts";

const DESTRUCTIVE = new Set([
  "guest.destroy",
  "guest.rollback",
  "guest.restore",
  "guest.snapshot.delete",
]);

/**
 * Stands in for the queue + gate + journal: destructive operations without an envelope are held
 * as pending_signature (the gate's rule), with one released; others finish at once or, with
 * `async`, stay running until `finish`. Its records survive a simulated agent restart, as the
 * journal's do.
 */
export class FakeSubmitter implements OperationSubmitter {
  readonly submitted: OperationRequest[] = [];
  private readonly ops = new Map<string, OperationStatus>();
  private n = 0;
  constructor(private readonly opts: { async?: boolean } = {}) {}

  async submit(req: OperationRequest): Promise<OperationStatus> {
    this.submitted.push(req);
    const held =
      req.jobId === undefined
        ? undefined
        : [...this.ops.values()].find(
            (s) =>
              s.state === "pending_signature" &&
              (s.result as { jobId?: string })?.jobId === req.jobId,
          );
    let state: OperationState;
    if (DESTRUCTIVE.has(req.op) && req.envelope === undefined) state = "pending_signature";
    else state = this.opts.async ? "running" : "done";
    const now = new Date().toISOString();
    const status: OperationStatus = {
      id: held && state !== "pending_signature" ? held.id : `op-${++this.n}`,
      op: req.op,
      state,
      createdAt: now,
      updatedAt: now,
      ...(req.vmid !== undefined ? { vmid: req.vmid } : {}),
      ...(state === "pending_signature" ? { result: { jobId: req.jobId } } : {}),
      ...(state === "done"
        ? { upid: "UPID:pve1:00001234:00005678:65000000:vzsnapshot:101:agent@pve!felhom:" }
        : {}),
    };
    this.ops.set(status.id, status);
    return { ...status };
  }

  status(id: string): OperationStatus | undefined {
    const s = this.ops.get(id);
    return s && { ...s };
  }

  finish(id: string, state: OperationState, reason?: string): void {
    const s = this.ops.get(id);
    if (!s) throw new Error(`no op ${id}`);
    this.ops.set(id, { ...s, state, ...(reason !== undefined ? { reason } : {}) });
  }
}
