import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../../src/util/clock.ts";
import { systemClock } from "../../src/util/clock.ts";

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "felhom-hub-test-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Real sleeping, but a `now` the test can move forward (code expiry, clock skew). */
export function shiftableClock(): Clock & { shift(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: systemClock.sleep,
    shift(ms) {
      offset += ms;
    },
  };
}
