import { parseArgs } from "node:util";
import type { ConfigFs } from "../config/fs.ts";
import { redactConfig } from "../daemon/agent-config.ts";
import { trustSummary } from "../hub/trust-summary.ts";
import { loadConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, EXIT_USAGE } from "./context.ts";
import { readStoredSigners } from "./stored-signers.ts";

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
