import type { OperationRequest } from "../ops/types.ts";
import type { IntentInput, Journal } from "../store/journal.ts";
import type { SignedIntentResult } from "../store/signed-intent.ts";

// The seam the engine calls lives with the gate, below reconcile, so the gate never imports its
// caller (docs/architecture.md#layers).

export type GateOutcome = "allowed" | "accepted" | "pending_signature" | "rejected";

export interface GateDecision {
  outcome: GateOutcome;
  /** Why: the classifier's reason, or the typed rejection (`binding_mismatch`, …). */
  reason?: string;
  /** For `pending_signature`: the held operation's id in the store's pending table. */
  pendingId?: string;
}

/**
 * What the gate may consult besides the request: provenance comes only from the journal
 * (docs/architecture.md#destructive-needs-a-signature); claims in params from the hub or a guest are ignored.
 */
export interface GateContext {
  journal: Pick<Journal, "byId" | "forGuest" | "forJob">;
  /**
   * The compound operation the request is a step of; set only by agent code for compound
   * operations it runs itself, never from a request field.
   */
  transaction?: string;
  /**
   * The golden images the agent knows (store `golden_images`), looked up by the gate for a
   * `guest.provision`'s archive. Without it no provisioning is benign.
   */
  goldenImages?: {
    byVolid(volid: string): { volid: string; source: "built" | "registered" } | undefined;
  };
  /**
   * For `guest.resize`, read by agent code: the guest's `max_disk_gib` from the desired state
   * and the disk's current size in bytes (absent = unknown).
   */
  disk?: { maxDiskGiB?: number; currentBytes?: bigint };
  /** For `storage.add`, read by agent code: what Proxmox has under the id now. */
  storage?: "absent" | "same" | "different";
}

/**
 * Fronts every mutation (docs/architecture.md#destructive-needs-a-signature): the engine executes only `allowed` (benign) and
 * `accepted` (destructive, proven by a signature) requests. The classifier + signature gate
 * implements this same interface.
 */
export interface Gate {
  decide(req: OperationRequest, ctx: GateContext): Promise<GateDecision>;
  /**
   * Journals the execution of a decision that permits it. For `accepted` this must consume the
   * signature's nonce, record the intent and release the held operation in ONE transaction
   * (docs/architecture.md#signed-operations); `replay` means the nonce went meanwhile and nothing was written. A gate
   * without it can only allow: the engine journals `allowed` itself and refuses `accepted`.
   */
  recordIntent?(decision: GateDecision, intent: IntentInput): SignedIntentResult;
}
