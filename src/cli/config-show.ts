import { parseArgs } from "node:util";
import type { ConfigFs } from "../config/fs.ts";
import { redactConfig } from "../daemon/agent-config.ts";
import { trustSummary } from "../hub/trust-summary.ts";
import { loadConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, EXIT_USAGE, pickSubcommand, renderHelp, UsageError } from "./context.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] config show [--json]"],
  body: `  show   print the effective configuration (file + FELHOM_AGENT_* env), secrets redacted,
         and signers_in_force: every operator signer with its fingerprint and source. The
         output is always JSON; --json is accepted for uniformity.`,
  examples: ["felhom-agent config show", "felhom-agent --config ./agent.json config show"],
});

export const CONFIG_SUBCOMMANDS = ["show"] as const;

/** `felhom-agent config <subcommand>`. */
export async function runConfig(argv: string[], ctx: CliContext): Promise<number> {
  const { sub, rest } = pickSubcommand("config", argv, CONFIG_SUBCOMMANDS);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  return runConfigShow(rest, ctx);
}

/**
 * `felhom-agent config show`: the effective configuration (file + env) with secrets redacted,
 * as pretty JSON, plus `signers_in_force` (each signer's fingerprint, role and source: config or
 * enrollment). Exit 2 with the ConfigError when the configuration is unusable.
 */
export async function runConfigShow(
  argv: string[],
  ctx: CliContext & { fs?: ConfigFs },
): Promise<number> {
  let configPath = ctx.configPath;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      ctx.stdout(HELP);
      return EXIT_OK;
    }
    configPath = values.config ?? configPath;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cfg = await loadConfigOrReport(ctx, "config show", {
    ...(configPath !== undefined ? { path: configPath } : {}),
    ...(ctx.fs ? { fs: ctx.fs } : {}),
  });
  if (!cfg) return EXIT_USAGE;
  // Not a config key: every operator key the gate accepts, the enrolled ones included, so the
  // trust in force is visible in one place (docs/hub-protocol.md#enrollment).
  const trust = await trustSummary(cfg);
  ctx.stdout(
    `${JSON.stringify({ ...redactConfig(cfg), signers_in_force: trust.signers }, null, 2)}\n`,
  );
  return EXIT_OK;
}
