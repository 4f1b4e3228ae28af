import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChaosOptions, runChaos } from "../../bench/support/chaos-rig.ts";
import { compileBinary } from "../../scripts/compile.ts";

/**
 * Bounded chaos against the shipped binary: `felhom-agent run` SIGKILLed at random (seeded)
 * moments while it converges guests of `felhom-agent sim`, restarted each time; every intended
 * change must happen exactly once, counted at the simulator (its task list for run-state
 * changes, its count of applied config PUTs for cores). bench/chaos.ts runs the long version.
 */
let outDir: string;
let bin: string;

beforeAll(() => {
  outDir = mkdtempSync(join(tmpdir(), "felhom-chaos-bin-"));
  bin = join(outDir, "felhom-agent");
  const build = compileBinary({ outfile: bin });
  if (!build.ok) throw new Error(`build failed: ${build.stderr}`);
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const base = (): Omit<ChaosOptions, "trials" | "seed" | "dropAfter"> => ({
  command: [bin],
  guests: 5,
  taskMs: 200,
  maxKills: 2,
  killWindowMs: 800,
  convergeTimeoutMs: 20_000,
});

describe("chaos: SIGKILL at random moments", () => {
  test("run-state and cores changes: none lost, none twice, every restart clean", async () => {
    const s = await runChaos({ ...base(), trials: 14, seed: 20261202, dropAfter: 0 });
    expect(s.problems).toEqual([]);
    expect(s).toMatchObject({
      trials: 14,
      lost: 0,
      duplicated: 0,
      failedRestarts: 0,
      unconverged: 0,
    });
    // The trials did what they claim: many changes, and the agent was killed many times.
    expect(s.intended).toBeGreaterThanOrEqual(30);
    expect(s.kills).toBeGreaterThanOrEqual(10);
    expect(s.restarts).toBe(s.kills);
  }, 90_000);
});

describe("chaos: SIGKILL plus lost answers (dropafter=0.3 switched through sim --control)", () => {
  test("run-state changes (POSTs that start tasks) happen exactly once", async () => {
    const s = await runChaos({
      ...base(),
      trials: 6,
      seed: 7,
      dropAfter: 0.3,
      configChanges: false,
    });
    expect(s.problems).toEqual([]);
    expect(s).toMatchObject({
      trials: 6,
      lost: 0,
      duplicated: 0,
      failedRestarts: 0,
      unconverged: 0,
    });
    expect(s.intended).toBeGreaterThanOrEqual(10);
    expect(s.kills).toBeGreaterThanOrEqual(3);
  }, 90_000);

  // Mutations never ride a reused connection, so the runtime cannot send a lost PUT twice
  // (docs/bun-runtime.md#fetch-resends-idempotent-methods).
  test("config changes (PUTs) happen exactly once when answers are lost", async () => {
    const s = await runChaos({ ...base(), trials: 8, seed: 11, dropAfter: 0.3 });
    expect(s.problems).toEqual([]);
    expect(s).toMatchObject({
      trials: 8,
      lost: 0,
      duplicated: 0,
      failedRestarts: 0,
      unconverged: 0,
    });
    expect(s.intended).toBeGreaterThanOrEqual(15);
  }, 90_000);
});
