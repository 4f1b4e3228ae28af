import { runDemoScenario } from "../demo/scenario.ts";
import type { RunAgent } from "../demo/types.ts";
import { systemClock } from "../util/clock.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, renderHelp, UsageError } from "./context.ts";
import { parseFlags } from "./flags.ts";
import { runDaemon } from "./run.ts";

/** The demo's daemon steps run the agent exactly as `felhom-agent run` does, config file and all. */
export const runAgentAsCli: RunAgent = (run) =>
  runDaemon(
    ["run"],
    { configPath: run.configPath, env: {}, stdout: () => {}, stderr: run.stderr },
    { signal: run.signal, clock: run.clock, makeClient: run.makeClient, onReady: run.onReady },
  );

const HELP = renderHelp({
  usage: ["felhom-agent demo [--task-ms N] [--verbose]"],
  body: `Runs the agent against its embedded Proxmox VE simulator on loopback, with no Proxmox host
needed, and walks through what it does, step by step. Exits 0 when every step behaved.

  --task-ms N   how long each simulated Proxmox task runs (default 700)
  --verbose     also print the agent's JSON log lines (on stderr)`,
  examples: ["felhom-agent demo", "felhom-agent demo --task-ms 200 --verbose"],
  exitCodes: "0 every step behaved, 1 a step did not, 2 usage error",
});

export async function runDemo(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    "task-ms": { type: "string" },
    verbose: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const taskText = values["task-ms"];
  if (taskText !== undefined && !/^\d{1,6}$/.test(taskText)) {
    throw new UsageError(`--task-ms must be a whole number of milliseconds, got '${taskText}'`);
  }
  ctx.stdout("felhom-agent demo: the host agent against a simulated Proxmox VE 9.1 host\n\n");
  const results = await runDemoScenario(
    {
      out: ctx.stdout,
      clock: systemClock,
      logSink: values.verbose ? (line) => ctx.stderr(`${line}\n`) : () => {},
      runAgent: runAgentAsCli,
    },
    taskText !== undefined ? { taskMs: Number(taskText) } : {},
  );
  const bad = results.filter((r) => !r.behaved);
  ctx.stdout(
    bad.length === 0
      ? `All ${results.length} steps behaved as expected.\n`
      : `${bad.length} of ${results.length} steps did NOT behave as expected:\n${bad.map((b) => `  - ${b.title}`).join("\n")}\n`,
  );
  return bad.length === 0 ? EXIT_OK : EXIT_FAILURE;
}
