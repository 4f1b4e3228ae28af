/**
 * `felhom-agent version` against its floor: a hello-world built with the same `bun build
 * --compile` flags (scripts/compile.ts), run alternately in one process. Prints wall time and
 * peak RSS of each, min/median/max, and the ratio of medians (issue table: goal ≤ 1.5×).
 *   bun bench/startup-ratio.ts [--runs N]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileBinary } from "../scripts/compile.ts";
import { alternate, ratioLine } from "./support/ratio.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  strict: true,
  options: { runs: { type: "string", default: "40" } },
});
const runs = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), "felhom-bench-startup-"));
try {
  const agent = join(dir, "felhom-agent");
  const hello = join(dir, "hello");
  const helloSrc = join(dir, "hello.ts");
  writeFileSync(helloSrc, 'console.log("hello");\n');
  for (const [outfile, entry] of [
    [agent, undefined],
    [hello, helloSrc],
  ] as const) {
    const r = compileBinary({ outfile, ...(entry ? { entry } : {}) });
    if (!r.ok) throw new Error(`build failed: ${r.stderr}`);
  }
  const cpu: Record<"agent" | "floor", number[]> = { agent: [], floor: [] };
  const run = (which: "agent" | "floor", cmd: string[]) => () => {
    const t0 = performance.now();
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}`);
    // CPU time of the child in microseconds.
    cpu[which].push(
      Number((r.resourceUsage?.cpuTime.user ?? 0n) + (r.resourceUsage?.cpuTime.system ?? 0n)) /
        1000,
    );
    return ms;
  };
  // Warm the page cache for both binaries first.
  for (let i = 0; i < 3; i++) {
    run("agent", [agent, "version"])();
    run("floor", [hello])();
  }
  cpu.agent.length = 0;
  cpu.floor.length = 0;
  const t = await alternate(runs, {
    agent: run("agent", [agent, "version"]),
    floor: run("floor", [hello]),
  });
  console.log(`start-up, ${runs} alternating runs each (Bun ${Bun.version})`);
  console.log(
    ratioLine("wall time: 'felhom-agent version' / hello world", t.agent, t.floor, "≤ 1.5x", "ms"),
  );
  console.log(ratioLine("CPU time (user + system)", cpu.agent, cpu.floor, "≤ 1.5x", "ms"));
  // Peak RSS through GNU time: Bun's resourceUsage.maxRSS does not isolate the child here.
  const peak = (cmd: string[]) => {
    const r = Bun.spawnSync(["/usr/bin/time", "-f", "%M", ...cmd], {
      stdout: "ignore",
      stderr: "pipe",
    });
    return Number(r.stderr.toString().trim().split("\n").pop()) / 1024;
  };
  if (Bun.which("/usr/bin/time")) {
    const rss = await alternate(10, {
      agent: () => peak([agent, "version"]),
      floor: () => peak([hello]),
    });
    console.log(ratioLine("peak RSS", rss.agent, rss.floor, "none", "MiB"));
  } else console.log("peak RSS: /usr/bin/time is missing");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
