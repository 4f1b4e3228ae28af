import type { GoldenImage } from "../store/golden-images.ts";
import { type CliContext, EXIT_OK, inSubcommand, pickSubcommand, renderHelp } from "./context.ts";
import { openExistingStore } from "./existing-store.ts";
import { runStoreListing } from "./store-listing.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] golden list [--json]"],
  body: `The golden images this host knows: the vzdump archives a new guest may be provisioned
from without a signature (src/gate/README.md). An archive becomes one by the signed
'golden.register' operation (see 'felhom-agent op sign'); each row says where it came from
(built or registered), its checksum when known, and the journal entry that recorded it.

Options:
  --json      an array of {volid, checksum, source, journal_id, created_at}
  -h, --help  show this help

Works while the daemon runs (the state database is shared in WAL mode).`,
  examples: ["felhom-agent golden list", "felhom-agent golden list --json"],
});

export const GOLDEN_SUBCOMMANDS = ["list"] as const;

export interface GoldenStoreHandle {
  goldenImages: { list(): GoldenImage[] };
  close(): void;
}

export interface GoldenCliDeps {
  openStore?: (stateDir: string) => Promise<GoldenStoreHandle> | GoldenStoreHandle;
}

const defaultOpen = (stateDir: string): Promise<GoldenStoreHandle> => openExistingStore(stateDir);

export async function runGolden(
  argv: string[],
  ctx: CliContext & { deps?: GoldenCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("golden", argv, GOLDEN_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  return inSubcommand(`golden ${sub}`, () =>
    runStoreListing(ctx, "golden list", rest, ctx.deps?.openStore ?? defaultOpen, (store, json) => {
      const rows = store.goldenImages.list();
      if (json) {
        const out = rows.map((r) => ({
          volid: r.volid,
          checksum: r.checksum,
          source: r.source,
          journal_id: r.journalId,
          created_at: new Date(r.createdAt).toISOString(),
        }));
        ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
      } else if (rows.length === 0) {
        ctx.stdout("no golden images; register one with a signed golden.register\n");
      } else {
        const lines = rows.map(
          (r) =>
            `${r.volid}  ${r.source.padEnd(10)}  ${r.checksum ?? "-"}  ${new Date(r.createdAt).toISOString()}`,
        );
        ctx.stdout(`${["VOLID  SOURCE  CHECKSUM  CREATED", ...lines].join("\n")}\n`);
      }
      return EXIT_OK;
    }),
  );
}
