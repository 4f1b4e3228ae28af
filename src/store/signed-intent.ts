import type { IntentInput, Journal } from "./journal.ts";
import type { Nonces } from "./nonces.ts";
import type { PendingOps } from "./pending.ts";

export interface SignedIntentInput {
  /** The envelope's nonce and expiry (ms since the epoch). */
  nonce: string;
  expiresAt: number;
  intent: IntentInput;
  /** The pending_signature operation this envelope releases, if any. */
  releasePendingId?: string;
}

export type SignedIntentResult = { ok: true; journalId: number } | { ok: false; reason: "replay" };

interface Parts {
  transaction<T>(fn: () => T): T;
  journal: Journal;
  nonces: Nonces;
  pending: PendingOps;
}

/**
 * Consumes the nonce, records the intent and releases the held operation in ONE transaction
 * (docs/architecture.md#signed-operations): either all three are durable or none is, so a crash can neither burn a nonce
 * without an execution on record nor leave an execution whose nonce can be replayed.
 */
export function recordSignedIntent(parts: Parts, input: SignedIntentInput): SignedIntentResult {
  return parts.transaction(() => {
    if (!parts.nonces.consume(input.nonce, input.expiresAt))
      return { ok: false, reason: "replay" } as const;
    const journalId = parts.journal.recordIntent(input.intent);
    if (input.releasePendingId !== undefined)
      parts.pending.release(input.releasePendingId, journalId);
    return { ok: true, journalId } as const;
  });
}
