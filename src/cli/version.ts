import { AGENT_VERSION } from "../version.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK, renderHelp } from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = renderHelp({
  usage: ["felhom-agent version [--json]", "felhom-agent --version"],
  body: `Prints the agent's version, the Bun runtime it runs on and the platform.

Options:
  --json      {"version": "…", "bun": "…", "platform": "…"}
  -h, --help  show this help`,
  examples: ["felhom-agent version --json"],
});

export async function runVersion(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseFlags(argv, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  if (values.json) {
    ctx.stdout(
      `${JSON.stringify({ version: AGENT_VERSION, bun: Bun.version, platform: `${process.platform}-${process.arch}` })}\n`,
    );
  } else {
    ctx.stdout(
      `felhom-agent ${AGENT_VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`,
    );
  }
  return EXIT_OK;
}
