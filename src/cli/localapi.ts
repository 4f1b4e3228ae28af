import { parseArgs } from "node:util";
import { ensureLocalApiCertificate, LocalApiCertError } from "../localapi/certificate.ts";
import type { NetworkInterfaces } from "../localapi/listen-address.ts";
import { ListenAddressError } from "../localapi/listen-address.ts";
import { LocalApiStartError, resolveListenAddress } from "../localapi/start.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  CONFIG_HINT,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";

export const LOCALAPI_SUBCOMMANDS = ["pins"] as const;

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] localapi pins [--json]"],
  body: `  pins   print the local API certificate's pins for a guest's bootstrap config, making the
         certificate first if it does not exist yet:
           leaf_sha256  SHA-256 of the certificate, AA:BB:… (the agent's pin convention)
           spki_sha256  sha256//BASE64 of the public key, as curl --pinnedpubkey takes it
  --json print {"leaf_sha256": "…", "spki_sha256": "…"}`,
  examples: ["felhom-agent localapi pins --json"],
});

export interface LocalApiCliDeps {
  interfaces?: NetworkInterfaces;
}

export async function runLocalApi(
  argv: string[],
  ctx: CliContext & { deps?: LocalApiCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("localapi", argv, LOCALAPI_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  let json = false;
  try {
    const { values } = parseArgs({
      args: rest,
      options: { json: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    });
    json = values.json === true;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cfg = await loadConfigOrReport(ctx, "localapi pins");
  if (!cfg) return EXIT_USAGE;
  try {
    const listen = resolveListenAddress(cfg.local_api, ctx.deps?.interfaces);
    const cert = await ensureLocalApiCertificate({ stateDir: cfg.state_dir, listen });
    if (cert.created) ctx.stderr(`created ${cert.path}\n`);
    if (!cert.coversListen) {
      ctx.stderr(
        `warning: ${cert.path} does not name ${listen}; pinning clients still accept it\n`,
      );
    }
    if (json) {
      ctx.stdout(
        `${JSON.stringify({ leaf_sha256: cert.leafSha256, spki_sha256: cert.spkiSha256 })}\n`,
      );
    } else {
      ctx.stdout(`leaf_sha256 ${cert.leafSha256}\nspki_sha256 ${cert.spkiSha256}\n`);
    }
    return EXIT_OK;
  } catch (err) {
    if (err instanceof LocalApiStartError || err instanceof ListenAddressError) {
      return reportFailure(ctx, "localapi pins", err.message, CONFIG_HINT, EXIT_USAGE);
    }
    if (err instanceof LocalApiCertError) return reportFailure(ctx, "localapi pins", err.message);
    throw err;
  }
}
