import { AGENT_VERSION } from "../version.ts";
import type { CliContext } from "./context.ts";
import { EXIT_OK } from "./context.ts";

export async function runVersion(argv: string[], ctx: CliContext): Promise<number> {
  if (argv.includes("--json")) {
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
