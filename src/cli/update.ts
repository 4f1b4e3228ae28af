import { existsSync } from "node:fs";
import { StoreError } from "../store/errors.ts";
import { updateLayout } from "../update/layout.ts";
import { updateStatus, updateStatusText } from "../update/status.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import type { CliContext } from "./context.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, pickSubcommand, renderHelp } from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] update status [--json]"],
  body: `Shows the agent's versions under the state directory and the last self-update:
  current       the version the service runs (<state_dir>/current)
  previous      the version a failed update falls back to (<state_dir>/previous)
  last attempt  version, step reached (admitted, downloaded, smoked, switched, started, good,
                failed, rolled_back) and why it stopped

Updates themselves arrive as signed agent.update operations from the hub; nothing here
starts one.

  --json   print {"current", "previous", "last_attempt"}
`,
  examples: ["felhom-agent update status --json"],
});

/** `felhom-agent update status`: see HELP. */
export async function runUpdate(argv: string[], ctx: CliContext): Promise<number> {
  const { sub, rest } = pickSubcommand("update", argv, ["status"]);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const { values } = parseFlags(rest, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const cfg = await loadOfflineConfigOrReport(ctx, "update status");
  if (cfg === undefined) return EXIT_USAGE;
  const { defaultStorePath, openStore } = await import("../store/open.ts");
  const path = defaultStorePath(cfg.state_dir);
  let last: ReturnType<import("../store/agent-updates.ts").AgentUpdates["last"]>;
  if (existsSync(path)) {
    try {
      const store = openStore({ path, exclusive: false, mustExist: true });
      try {
        last = store.agentUpdates.last();
      } finally {
        store.close();
      }
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      ctx.stderr(
        `felhom-agent: update status: the state database cannot be read (${err.message}); check it with felhom-agent status\n`,
      );
      return EXIT_FAILURE;
    }
  }
  const s = updateStatus(updateLayout(cfg.state_dir), last);
  ctx.stdout(values.json ? `${JSON.stringify(s, null, 2)}\n` : updateStatusText(s));
  return EXIT_OK;
}
