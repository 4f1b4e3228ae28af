/**
 * Whether an operation's intent became a journal row. A refusal carries why, as a stable
 * `reason` for code and a `message` for the operation's status (which begins with the reason).
 */
export type IntentOutcome =
  | { kind: "recorded"; journalId: number }
  | { kind: "refused"; reason: IntentRefusal; message: string };

export type IntentRefusal =
  /** A signed operation reached a gate that cannot journal it together with its nonce. */
  | "unsigned_gate"
  /** The signature's nonce was used already. */
  | "replay"
  /** The store could not write the intent (full disk, closed database, …). */
  | "not_recorded";

export function recorded(journalId: number): IntentOutcome {
  return { kind: "recorded", journalId };
}

export function refused(reason: IntentRefusal, message: string): IntentOutcome {
  return { kind: "refused", reason, message };
}
