import { z } from "zod";
import type { JournalEntry } from "../store/journal.ts";

/**
 * What the agent records in a journal entry's `provenance` about objects it created itself
 * (docs/architecture.md#destructive-needs-a-signature). Only agent code writes it, when it journals its own work; it is never copied
 * from request params, so a hub or a guest cannot put a claim here. The gate reads it back to
 * tell the agent's own objects from the customer's.
 *
 * - `created`: the guests and snapshots this journaled operation brought into existence.
 * - `txn`: the compound operation (e.g. provision: restore → configure → start, or the task
 *   self-test: snapshot → rollback → delete) the step belongs to. Undoing a step of the same
 *   compound operation touches nothing the customer has had.
 * - `scratch`: the created objects are the agent's own working copies, never handed to the
 *   customer (a test restore, a safety snapshot the agent deletes itself).
 * - `guest_request`: the agent made the object because the guest itself asked for it through
 *   the local API (a controller's snapshot before a deploy). That guest may roll back to it or
 *   delete it without a signature (docs/architecture.md#snapshot-before-deploy); nobody else may.
 */
export const PROVENANCE_VERSION = 1;

const snapshotNameSchema = z.string().min(1).max(64);
const vmidSchema = z.number().int().min(100).max(999_999_999);

const createdObjectSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("guest"), vmid: vmidSchema }),
  z.strictObject({ kind: z.literal("snapshot"), vmid: vmidSchema, name: snapshotNameSchema }),
]);

export type CreatedObject = z.infer<typeof createdObjectSchema>;

export const agentProvenanceSchema = z.strictObject({
  v: z.literal(PROVENANCE_VERSION),
  txn: z.string().min(1).max(128).optional(),
  scratch: z.boolean().optional(),
  guest_request: z.boolean().optional(),
  created: z.array(createdObjectSchema).max(64),
});

export type AgentProvenance = z.infer<typeof agentProvenanceSchema>;

/** The value agent code passes as `provenance` to journal.recordIntent / recordTerminal. */
export function agentProvenance(input: {
  created: readonly CreatedObject[];
  txn?: string;
  scratch?: boolean;
  guestRequest?: boolean;
}): AgentProvenance {
  return agentProvenanceSchema.parse({
    v: PROVENANCE_VERSION,
    created: [...input.created],
    ...(input.txn === undefined ? {} : { txn: input.txn }),
    ...(input.scratch === undefined ? {} : { scratch: input.scratch }),
    ...(input.guestRequest === undefined ? {} : { guest_request: input.guestRequest }),
  });
}

/** How the agent came to own an object: the journal entry that created it. */
export interface AgentOrigin {
  journalId: number;
  /** Created by a step of the compound operation the gated request belongs to. */
  sameTransaction: boolean;
  scratch: boolean;
  /** Made at the request of the guest it belongs to, through the local API. */
  guestRequest: boolean;
}

/** What the journal proves about the objects a request acts on; empty = nothing proven. */
export interface ProvenanceFacts {
  /** The target guest was created by the agent (and not destroyed since). */
  guest?: AgentOrigin;
  /** The snapshot named in params.name was created by the agent (and not deleted since). */
  snapshot?: AgentOrigin;
}

/** The journal as the gate may read it (GateContext.journal). */
export interface ProvenanceJournal {
  forGuest(vmid: number, limit?: number): JournalEntry[];
}

/** How far back one guest's history is searched; older creations prove nothing. */
export const PROVENANCE_LOOKBACK = 500;

const GUEST_CREATE_OPS = new Set(["guest.provision", "guest.restore"]);

function parseProvenance(value: unknown): AgentProvenance | undefined {
  const parsed = agentProvenanceSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function snapshotNameOf(params: unknown): string | undefined {
  if (params === null || typeof params !== "object" || Array.isArray(params)) return undefined;
  const name = (params as Record<string, unknown>).name;
  return typeof name === "string" ? name : undefined;
}

function originOf(
  entry: JournalEntry,
  provenance: AgentProvenance,
  transaction: string | undefined,
): AgentOrigin {
  return {
    journalId: entry.id,
    sameTransaction: transaction !== undefined && provenance.txn === transaction,
    scratch: provenance.scratch === true,
    guestRequest: provenance.guest_request === true,
  };
}

/**
 * The newest journal entry that created or removed the object decides. A creation counts only
 * when it finished (`done`) and its provenance names the object; a later removal, or a later
 * creation by anyone without that record, means the object there now is not provably the
 * agent's. Objects made outside the agent are not in the journal at all, so they are never
 * provably the agent's either.
 */
export function provenanceFacts(
  journal: ProvenanceJournal,
  action: { op: string; vmid?: number; params: unknown },
  transaction?: string,
): ProvenanceFacts {
  const vmid = action.vmid;
  if (vmid === undefined) return {};
  const history = journal.forGuest(vmid, PROVENANCE_LOOKBACK);
  const facts: ProvenanceFacts = {};

  for (const entry of history) {
    if (entry.op === "guest.destroy" && entry.phase !== "failed") break;
    if (!GUEST_CREATE_OPS.has(entry.op)) continue;
    if (entry.phase !== "done") break;
    const provenance = parseProvenance(entry.provenance);
    const named = provenance?.created.some((o) => o.kind === "guest" && o.vmid === vmid);
    if (provenance && named) facts.guest = originOf(entry, provenance, transaction);
    break;
  }

  const name = snapshotNameOf(action.params);
  if (name !== undefined) {
    for (const entry of history) {
      const touches =
        (entry.op === "guest.snapshot" || entry.op === "guest.snapshot.delete") &&
        snapshotNameOf(entry.params) === name;
      // A restore or re-provision replaces every snapshot the guest had.
      const replaces = GUEST_CREATE_OPS.has(entry.op) || entry.op === "guest.destroy";
      if (replaces && entry.phase !== "failed") break;
      if (!touches) continue;
      if (entry.op === "guest.snapshot.delete") {
        if (entry.phase === "failed") continue;
        break;
      }
      if (entry.phase === "failed") continue;
      if (entry.phase !== "done") break;
      const provenance = parseProvenance(entry.provenance);
      const named = provenance?.created.some(
        (o) => o.kind === "snapshot" && o.vmid === vmid && o.name === name,
      );
      if (provenance && named) facts.snapshot = originOf(entry, provenance, transaction);
      break;
    }
  }
  return facts;
}
