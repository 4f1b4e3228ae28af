import { runConfigShow } from "./config-show.ts";
import type { CliContext } from "./context.ts";
import { UsageError } from "./context.ts";
import { runDemo } from "./demo.ts";
import type { Command } from "./dispatch.ts";
import { runSelftest } from "./selftest.ts";
import { runSimCommand } from "./sim.ts";
import { runVersion } from "./version.ts";

async function runConfig(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "show") return runConfigShow(rest, ctx);
  if (sub === undefined || sub === "--help" || sub === "-h") {
    ctx.stdout(
      "Usage: felhom-agent [--config PATH] config show\n\n  show   print the effective configuration (file + FELHOM_AGENT_* env), secrets redacted\n",
    );
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown config subcommand '${sub}' (try 'config show')`);
}

/** Every command of the binary; the CLI entry only dispatches into this table. */
export const COMMANDS: Command[] = [
  {
    name: "selftest",
    summary: "read-only health report (also --selftest, --selftest=task)",
    run: runSelftest,
  },
  {
    name: "config",
    summary: "config show: the effective configuration, secrets redacted",
    run: runConfig,
  },
  {
    name: "demo",
    summary: "walk through the agent against the embedded Proxmox simulator",
    run: runDemo,
  },
  {
    name: "sim",
    summary: "run the Proxmox VE API simulator on loopback",
    run: (argv, ctx) => runSimCommand(argv, ctx),
  },
  { name: "version", summary: "print the agent's version", run: runVersion },
];
