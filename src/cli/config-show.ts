import { parseArgs } from "node:util";
import type { ConfigFs } from "../config/fs.ts";
import { redactConfig } from "../daemon/agent-config.ts";
import { trustSummary } from "../hub/trust-summary.ts";
import { loadConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, EXIT_USAGE } from "./context.ts";

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
      options: { config: { type: "string", short: "c" } },
      strict: true,
      allowPositionals: false,
    });
    configPath = values.config ?? configPath;
  } catch (err) {
    ctx.stderr(
      `config show: ${(err as Error).message}\nusage: felhom-agent [--config PATH] config show\n`,
    );
    return EXIT_USAGE;
  }
  const cfg = await loadConfigOrReport(ctx, {
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
