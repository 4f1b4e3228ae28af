/**
 * One vocabulary of operations for the planner, the gate, hub jobs, signed envelopes and the
 * local API (docs/architecture.md#signed-operations). New operations are added here in the same `noun.verb` form,
 * with their one parameter schema in ./params (docs/architecture.md#one-schema-per-operation).
 */
export const OP_NAMES = [
  "guest.start",
  "guest.stop",
  "guest.shutdown",
  "guest.config",
  "guest.resize",
  "guest.snapshot",
  "guest.rollback",
  "guest.snapshot.delete",
  "guest.backup",
  "guest.backup.delete",
  "guest.backup.prune",
  "guest.backup.protect",
  "guest.provision",
  "guest.restore",
  "guest.destroy",
  "storage.add",
  "storage.remove",
  "signers.rotate",
  "agent.update",
  "golden.register",
  "backup.policy",
  "tunnel.configure",
] as const;

export type OpName = (typeof OP_NAMES)[number];

export function isOpName(text: unknown): text is OpName {
  return typeof text === "string" && (OP_NAMES as readonly string[]).includes(text);
}

/**
 * Who asked. `schedule` is the backup scheduler (docs/reconcile.md#backup-schedule). Provenance
 * claims inside params are never trusted; only the journal's are.
 */
export type OpOrigin = "reconcile" | "localapi" | "job" | "operator" | "schedule";

/** The raw signed envelope as it travelled (docs/architecture.md#signed-operations); verified by the gate. */
export interface SignedEnvelope {
  payload: string;
  signature: string;
}

export interface OperationRequest {
  op: OpName;
  /** The guest acted on; absent for host-level operations (storage.*, signers.*, agent.*). */
  vmid?: number;
  /** Exactly what will be executed; a signature must bind these. */
  params: Record<string, unknown>;
  origin: OpOrigin;
  /** Hub job id, for results reported back exactly once. */
  jobId?: string;
  envelope?: SignedEnvelope;
  /** Local-API and operator requests go ahead of background reconcile work. */
  priority: "interactive" | "background";
}

export type OperationState =
  | "queued"
  | "running"
  | "done"
  | "failed"
  | "pending_signature"
  | "rejected";

export interface OperationStatus {
  /** Agent-assigned id (the journal or pending row id). */
  id: string;
  op: OpName;
  vmid?: number;
  state: OperationState;
  /** For rejected: the typed reason (e.g. `binding_mismatch`); for failed: a short cause. */
  reason?: string;
  upid?: string;
  /** Operation-specific result, e.g. `{ snapshot: "name" }`. */
  result?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/**
 * The one seam every mutation enters through: the per-guest queue, behind the gate and the
 * journal. The local API and hub jobs call it; they never call the Proxmox client directly.
 */
export interface OperationSubmitter {
  submit(req: OperationRequest): Promise<OperationStatus>;
  status(id: string): OperationStatus | undefined;
}
