import { z } from "zod";
import { OP_NAMES, type OpName } from "../ops/types.ts";

// The vocabulary itself lives in src/ops/types.ts, shared with the planner, jobs and the local
// API; envelopes validate `op` against it.
export { isOpName, OP_NAMES, type OpName } from "../ops/types.ts";

export const opNameSchema = z.enum(OP_NAMES);

/**
 * Whether an operation acts on one guest. `guest.*` operations name their guest in the signed
 * payload; every other noun (`storage`, `signers`, `agent`) acts on the host and names none
 * (docs/architecture.md#signed-operations: `guest` is the vmid and optional uid of the guest acted on).
 */
export function isGuestOp(op: OpName): boolean {
  return op.startsWith("guest.");
}

/** The operations that act on the host as a whole; their payloads carry no `guest`. */
export const HOST_OP_NAMES: readonly OpName[] = OP_NAMES.filter((op) => !isGuestOp(op));
