import type { Journal, JournalEntry } from "../store/journal.ts";
import { canonicalJson } from "../util/canonical-json.ts";
import { retryDelayMs } from "./failure.ts";

export interface RetryPolicy {
  /** Attempts of one action (same guest, op and params) before the reconciler gives up. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 30_000,
  maxDelayMs: 15 * 60_000,
};

export type RetryVerdict =
  | { kind: "go"; attempt: number }
  | { kind: "backoff"; attempt: number; untilMs: number }
  | { kind: "gave_up"; attempts: number; reason: string };

/**
 * Whether the reconciler may try an action again, read from the journal so it survives a
 * restart. The key is guest + op + exact params, counted since the current desired state was
 * received: a doomed action stops after `maxAttempts` (or at once when only an operator can fix
 * it) instead of being retried forever, and a new desired-state document starts it afresh.
 */
export function retryVerdict(
  journal: Pick<Journal, "forGuest">,
  vmid: number,
  op: string,
  params: unknown,
  now: number,
  policy: RetryPolicy,
  /** Attempts before this instant (an older desired state) do not count. */
  since = 0,
): RetryVerdict {
  const key = canonicalJson(params);
  const last = journal
    .forGuest(vmid, 50)
    .find((e) => e.op === op && e.createdAt >= since && canonicalJson(e.params) === key);
  if (last === undefined || last.phase === "done") return { kind: "go", attempt: 1 };
  if (last.phase === "intent" || last.phase === "posted") {
    return { kind: "backoff", attempt: last.attempts, untilMs: now };
  }
  if (last.phase === "abandoned") return { kind: "go", attempt: last.attempts + 1 };
  if (failureClassOf(last) === "operator") {
    return { kind: "gave_up", attempts: last.attempts, reason: failureCauseOf(last) };
  }
  if (last.attempts >= policy.maxAttempts) {
    return {
      kind: "gave_up",
      attempts: last.attempts,
      reason: `failed ${last.attempts} times (${failureCauseOf(last)})`,
    };
  }
  const untilMs =
    last.updatedAt + retryDelayMs(last.attempts, policy.baseDelayMs, policy.maxDelayMs);
  if (now < untilMs) return { kind: "backoff", attempt: last.attempts + 1, untilMs };
  return { kind: "go", attempt: last.attempts + 1 };
}

function failureClassOf(e: JournalEntry): string | undefined {
  const err = e.error as { class?: unknown } | undefined;
  return typeof err?.class === "string" ? err.class : undefined;
}

function failureCauseOf(e: JournalEntry): string {
  const err = e.error as { cause?: unknown } | undefined;
  return typeof err?.cause === "string" ? err.cause : "failed";
}
