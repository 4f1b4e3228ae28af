import { ConfigError } from "../config/errors.ts";
import type { CliContext } from "./context.ts";
import { CONFIG_HINT, CommandFailure, EXIT_USAGE, failureLine, UsageError } from "./context.ts";

export interface Command {
  name: string;
  /** One line for the command list in `--help`. */
  summary: string;
  /** The subcommand words, for shell completion (`completion bash`). */
  subcommands?: readonly string[];
  run(argv: string[], ctx: CliContext): Promise<number>;
}

export interface ParsedGlobal {
  configPath?: string;
  help: boolean;
  /** The command word, or "selftest" when only `--selftest[=task]` was given. */
  command?: string;
  /** Arguments that belong to the command (the selftest form keeps its flags). */
  rest: string[];
}

/**
 * Splits `felhom-agent [--config PATH] [--help] <command> [args…]`. The selftest is reachable
 * as a flag (`--selftest`, `--selftest=task`) as the operator docs of the earlier agent used it,
 * so a line without a command word but with `--selftest` runs that command.
 */
export function parseGlobal(argv: string[]): ParsedGlobal {
  const out: ParsedGlobal = { help: false, rest: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--config" || a === "-c") {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("-")) throw new UsageError(`${a} needs a path`);
      out.configPath = v;
      i++;
    } else if (a.startsWith("--config=")) {
      out.configPath = a.slice("--config=".length);
      if (!out.configPath) throw new UsageError("--config needs a path");
    } else if (a === "--help" || a === "-h") {
      out.help = true;
    } else if (a === "--version") {
      out.command = "version";
      out.rest = argv.slice(i + 1);
      return out;
    } else if (a.startsWith("-")) {
      // Options before the command are global, except the selftest's own flags, which may
      // come in any order around `--selftest`.
      if (argv.some(isSelftestFlag)) {
        out.command = "selftest";
        out.rest = stripConfig(argv);
        const c = findConfig(argv);
        if (c !== undefined) out.configPath = c;
        return out;
      }
      throw new UsageError(`unknown option ${a} (command options go after the command)`);
    } else {
      out.command = a;
      out.rest = argv.slice(i + 1);
      return out;
    }
  }
  return out;
}

const isSelftestFlag = (a: string) => a === "--selftest" || a.startsWith("--selftest=");

function findConfig(args: string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--config" || a === "-c") {
      found = args[i + 1];
      if (found === undefined || found.startsWith("-")) throw new UsageError(`${a} needs a path`);
    } else if (a.startsWith("--config=")) found = a.slice("--config=".length);
  }
  if (found === "") throw new UsageError("--config needs a path");
  return found;
}

/** The selftest reads --config through the global context, not its own flags. */
function stripConfig(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--config" || a === "-c") i++;
    else if (!a.startsWith("--config=")) out.push(a);
  }
  return out;
}

export function usageText(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "felhom-agent: the Felhom host agent for Proxmox VE.",
    "",
    "Usage: felhom-agent [--config PATH] <command> [options]",
    "       felhom-agent [--config PATH] --selftest[=task] [--vmid N] [--json]",
    "",
    "Commands:",
    ...lines,
    "",
    "Global options:",
    "  -c, --config PATH  config file (default /etc/felhom-agent/agent.json); env",
    "                     FELHOM_AGENT_* variables override it",
    "  -h, --help         this help; `felhom-agent <command> --help` for a command",
    "",
    "Exit codes: 0 ok, 1 a failure was found, 2 usage or configuration error.",
    "",
  ].join("\n");
}

export async function dispatch(
  argv: string[],
  commands: Command[],
  ctx: CliContext,
): Promise<number> {
  let parsed: ParsedGlobal;
  try {
    parsed = parseGlobal(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.stderr(`felhom-agent: ${err.message}; run 'felhom-agent --help' for usage\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (!parsed.command) {
    if (parsed.help) {
      ctx.stdout(usageText(commands));
      return 0;
    }
    ctx.stderr(usageText(commands));
    return EXIT_USAGE;
  }
  const cmd = commands.find((c) => c.name === parsed.command);
  if (!cmd) {
    ctx.stderr(
      `felhom-agent: unknown command '${parsed.command}'; run 'felhom-agent --help' for the list of commands\n`,
    );
    return EXIT_USAGE;
  }
  const rest =
    parsed.help && !parsed.rest.includes("--help") ? ["--help", ...parsed.rest] : parsed.rest;
  const cmdCtx: CliContext = { ...ctx };
  if (parsed.configPath !== undefined) cmdCtx.configPath = parsed.configPath;
  try {
    return await cmd.run(rest, cmdCtx);
  } catch (err) {
    if (err instanceof UsageError) {
      const scope = err.scope ?? cmd.name;
      ctx.stderr(failureLine(scope, err.message, `run 'felhom-agent ${scope} --help' for usage`));
      return EXIT_USAGE;
    }
    if (err instanceof CommandFailure) {
      ctx.stderr(failureLine(err.scope ?? cmd.name, err.message, err.hint));
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      ctx.stderr(failureLine(cmd.name, `configuration error: ${err.message}`, CONFIG_HINT));
      return EXIT_USAGE;
    }
    throw err;
  }
}
