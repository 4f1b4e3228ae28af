/**
 * Chaos bench: the compiled `felhom-agent run` against `felhom-agent sim`, SIGKILLed at random
 * moments and restarted, first without faults, then with lost answers (`dropafter`, switched
 * through the simulator's --control endpoint). Each trial changes the run state (a task) and
 * the cores (a config PUT) of random guests; every change is counted at the simulator. Prints
 * trials, lost, duplicated and restarts for each mode.
 *
 *   bun bench/chaos.ts [--trials N] [--seed N] [--drop-after P] [--guests N] [--task-ms N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileBinary } from "../scripts/compile.ts";
import { type ChaosSummary, runChaos } from "./support/chaos-rig.ts";

const USAGE =
  "usage: bun bench/chaos.ts [--trials N] [--seed N] [--drop-after P] [--guests N] [--task-ms N]";
const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: {
    trials: { type: "string", default: "40" },
    seed: { type: "string", default: "1" },
    "drop-after": { type: "string", default: "0.3" },
    guests: { type: "string", default: "6" },
    "task-ms": { type: "string", default: "300" },
  },
});
const trials = Number(values.trials);
const seed = Number(values.seed);
const dropAfter = Number(values["drop-after"]);
const guests = Number(values.guests);
const taskMs = Number(values["task-ms"]);
if (
  ![trials, seed, guests, taskMs].every((n) => Number.isInteger(n) && n > 0) ||
  !(dropAfter > 0 && dropAfter <= 1)
) {
  console.error(USAGE);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "felhom-chaos-bench-"));
try {
  const bin = join(dir, "felhom-agent");
  const build = compileBinary({ outfile: bin });
  if (!build.ok) throw new Error(`build failed: ${build.stderr}`);
  const common = {
    command: [bin],
    trials,
    seed,
    guests,
    taskMs,
    maxKills: 3,
    killWindowMs: 4 * taskMs,
    convergeTimeoutMs: 60_000,
  };
  const modes: [string, Parameters<typeof runChaos>[0]][] = [
    ["SIGKILL only", { ...common, dropAfter: 0 }],
    [`SIGKILL + dropafter=${dropAfter}`, { ...common, dropAfter }],
    [
      `SIGKILL + dropafter=${dropAfter}, run state only`,
      { ...common, dropAfter, configChanges: false },
    ],
  ];
  const rows: [string, ChaosSummary, number][] = [];
  for (const [label, options] of modes) {
    const t0 = performance.now();
    rows.push([label, await runChaos(options), performance.now() - t0]);
  }
  for (const [label, s, ms] of rows) {
    console.log(
      `${label.padEnd(44)} trials ${s.trials}, intended ${s.intended}, lost ${s.lost}, ` +
        `duplicated ${s.duplicated}, SIGKILLs ${s.kills}, restarts ${s.restarts}, ` +
        `failed restarts ${s.failedRestarts}, unconverged ${s.unconverged} (${(ms / 1000).toFixed(1)} s)`,
    );
  }
  for (const [label, s] of rows) {
    for (const p of s.problems.slice(0, 8)) console.log(`  ${label}: ${p}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
