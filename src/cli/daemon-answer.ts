import type { Clock } from "../util/clock.ts";

/** How often the command line looks for the daemon's answer in the state database. */
export const DAEMON_ANSWER_POLL_MS = 250;

/**
 * The command line's side of a request the daemon carries out (`pending approve|decline`,
 * `backup run`): the command queued it in the state database, and waits here, polling, until
 * `answered()` says the daemon wrote its answer or `waitS` seconds passed
 * (docs/architecture.md#held-operations-on-the-host).
 */
export async function waitForDaemon(
  answered: () => boolean,
  waitS: number,
  clock: Clock,
): Promise<void> {
  const until = clock.now() + waitS * 1000;
  while (!answered() && clock.now() < until) await clock.sleep(DAEMON_ANSWER_POLL_MS);
}
