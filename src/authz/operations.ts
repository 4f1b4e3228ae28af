import { z } from "zod";

/**
 * The one operation vocabulary shared by the planner, the gate, hub jobs and signed envelopes
 * (DESIGN.md §4.4). New names take the same `noun.verb` form.
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
  "guest.provision",
  "guest.restore",
  "guest.destroy",
  "storage.add",
  "storage.remove",
  "signers.rotate",
  "agent.update",
] as const;

export type OpName = (typeof OP_NAMES)[number];

export const opNameSchema = z.enum(OP_NAMES);

export function isOpName(value: string): value is OpName {
  return (OP_NAMES as readonly string[]).includes(value);
}
