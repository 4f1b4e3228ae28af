import { parseArgs } from "node:util";
import type { ConfigFs } from "../config/fs.ts";
import { redactConfig } from "../daemon/agent-config.ts";
import { trustSummary } from "../hub/trust-summary.ts";
import { loadConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, EXIT_USAGE, pickSubcommand, renderHelp, UsageError } from "./context.ts";
import { readStoredSigners } from "./stored-signers.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] config show [--json]",
    "felhom-agent [--config PATH] config check [--json]",
  ],
  body: `  show   print the effective configuration (file + FELHOM_AGENT_* env), secrets redacted,
         and signers_in_force: every operator signer with its fingerprint and source. The
         output is always JSON; --json is accepted for uniformity.
  check  validate the configuration as 'run' loads it, starting nothing (exit 0, or 2 with
         the error); a self-update runs the new binary's 'config check' before switching.`,
  examples: [
    "felhom-agent config show",
    "felhom-agent --config /etc/felhom-agent/agent.json config check",
  ],
});

export const CONFIG_SUBCOMMANDS = ["show", "check"] as const;

/** `felhom-agent config <subcommand>`. */
export async function runConfig(argv: string[], ctx: CliContext): Promise<number> {
  const { sub, rest } = pickSubcommand("config", argv, CONFIG_SUBCOMMANDS);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  if (sub === "check") return (await import("./config-check.ts")).runConfigCheck(rest, ctx);
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
  // The enrolled set is read from the state database when there is one (a rotation changes it
  // there); a database that cannot be read is `status`'s to report, so it is left out here.
  const { defaultStorePath } = await import("../store/open.ts");
  const stored = ctx.fs
    ? undefined
    : await readStoredSigners(defaultStorePath(cfg.state_dir)).catch(() => undefined);
  const trust = await trustSummary(cfg, stored);
  ctx.stdout(
    `${JSON.stringify({ ...redactConfig(cfg), signers_in_force: trust.signers }, null, 2)}\n`,
  );
  return EXIT_OK;
}
