import { loadConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, EXIT_USAGE } from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = `Usage: felhom-agent [--config PATH] config check [--json]

Validates the configuration (the file and FELHOM_AGENT_* overrides) exactly as 'run' would
load it, and starts nothing: no state database, no network. Exit 0 when it is usable, 2 with
the error otherwise. A self-update runs the new binary's 'config check' against the live
configuration before it switches to it.

  --json   print {"ok": true, "config": PATH} on success

Example:
  felhom-agent --config /etc/felhom-agent/config.json config check
`;

/** `felhom-agent config check`: see HELP. */
export async function runConfigCheck(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const cfg = await loadConfigOrReport(ctx, "config check");
  if (cfg === undefined) return EXIT_USAGE;
  const where = ctx.configPath ?? "(default path and environment)";
  ctx.stdout(
    values.json
      ? `${JSON.stringify({ ok: true, config: where })}\n`
      : `configuration OK: ${where}\n`,
  );
  return EXIT_OK;
}
