import type { Collected } from "./types.ts";

const text = (err: unknown) => ((err as Error)?.message ?? String(err)).slice(0, 300);

/**
 * Runs one collector so that it fails alone (docs/health.md#collectors): an error or a
 * timeout becomes `unavailable` with the reason, never an exception that stops the others.
 * The signal is aborted at the deadline, so a collector that honours it stops its reads.
 */
export async function collect<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  now: () => number,
): Promise<Collected<T>> {
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const data = await Promise.race([run(ctl.signal), deadline]);
    return { state: "ok", at: now(), data };
  } catch (err) {
    return { state: "unavailable", at: now(), reason: text(err) };
  } finally {
    clearTimeout(timer);
  }
}
