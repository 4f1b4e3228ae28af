import type { Journal, JournalEntry } from "../store/journal.ts";
import { backoffDelayMs, NO_JITTER, type RetryPolicy } from "../util/backoff.ts";
import { canonicalJson } from "../util/canonical-json.ts";

/**
 * Retries of one failed reconcile action (same guest, op and params): `attempts` in all before
 * the reconciler gives up, 30 s after the first failure, doubling to a 15-minute cap. Not
 * jittered: the wait runs from the journaled failure time, and passes are jittered already.
 */
export function actionRetry(attempts: number): RetryPolicy {
  return { attempts, baseMs: 30_000, factor: 2, capMs: 15 * 60_000, jitter: NO_JITTER };
}

export const defaultRetryPolicy: RetryPolicy = actionRetry(5);

export type RetryVerdict =
  | { kind: "go"; attempt: number }
  | { kind: "backoff"; attempt: number; untilMs: number }
  | { kind: "gave_up"; attempts: number; reason: string };

/**
 * Whether the reconciler may try an action again, read from the journal so it survives a
 * restart. The key is guest + op + exact params, counted since the current desired state was
 * received: a doomed action stops after `attempts` (or at once when only an operator can fix
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
  if (last.attempts >= policy.attempts) {
    return {
      kind: "gave_up",
      attempts: last.attempts,
      reason: `failed ${last.attempts} times (${failureCauseOf(last)})`,
    };
  }
  // The first failure waits `baseMs` (retry n = 0), each further one twice as long.
  const untilMs = last.updatedAt + backoffDelayMs(policy, last.attempts - 1, () => 0);
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
