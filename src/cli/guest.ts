import type { BootstrapRecord } from "../store/bootstrap-codes.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  inSubcommand,
  pickSubcommand,
  renderHelp,
} from "./context.ts";
import { openExistingStore } from "./existing-store.ts";
import { runStoreListing } from "./store-listing.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] guest provisioning [--json]"],
  body: `Provisionings that have not finished: per guest, the newest bootstrap code that has not
reached the end (env removed after the controller traded it), and the step it stopped at:

  issued       a code was made but not yet written into the guest's env
  env_set      the code is in env; the guest was not started after it
  started      the guest runs with its code; its controller has not traded it yet
  redeemed     the controller traded it; env is still to be removed
  expired      never traded in time; provision again, or destroy the guest
  revoked      replaced or given up

The daemon resumes issued, env_set and redeemed ones when it starts. Never prints a code.

Options:
  --json      an array of {vmid, guest_uid, bootstrap, step, created_at, expires_at}
  -h, --help  show this help`,
  examples: ["felhom-agent guest provisioning", "felhom-agent guest provisioning --json"],
  exitCodes: "0 none unfinished, 1 some are, 2 usage or configuration error",
});

export const GUEST_SUBCOMMANDS = ["provisioning"] as const;

export interface GuestStoreHandle {
  bootstrapCodes: { unfinished(): BootstrapRecord[] };
  close(): void;
}

export interface GuestCliDeps {
  openStore?: (stateDir: string) => Promise<GuestStoreHandle> | GuestStoreHandle;
}

const defaultOpen = (stateDir: string): Promise<GuestStoreHandle> => openExistingStore(stateDir);

const iso = (ms: number) => new Date(ms).toISOString();

export async function runGuest(
  argv: string[],
  ctx: CliContext & { deps?: GuestCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("guest", argv, GUEST_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  return inSubcommand(`guest ${sub}`, () =>
    runStoreListing(
      ctx,
      "guest provisioning",
      rest,
      ctx.deps?.openStore ?? defaultOpen,
      (store, json) => {
        const rows = store.bootstrapCodes.unfinished();
        if (json) {
          const out = rows.map((r) => ({
            vmid: r.vmid,
            guest_uid: r.guestUid,
            bootstrap: r.id,
            step: r.step,
            created_at: iso(r.createdAt),
            expires_at: iso(r.expiresAt),
          }));
          ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
        } else if (rows.length === 0) {
          ctx.stdout("no unfinished provisioning\n");
        } else {
          const lines = rows.map(
            (r) =>
              `${String(r.vmid).padEnd(9)}  ${r.step.padEnd(9)}  ${r.id}  ${iso(r.createdAt)}  ${iso(r.expiresAt)}`,
          );
          ctx.stdout(
            `${["VMID       STEP       BOOTSTRAP            CREATED  EXPIRES", ...lines].join("\n")}\n`,
          );
        }
        return rows.length === 0 ? EXIT_OK : EXIT_FAILURE;
      },
    ),
  );
}
