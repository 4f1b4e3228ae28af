import { parseArgs } from "node:util";
import type { BootstrapRecord } from "../store/bootstrap-codes.ts";
import { StoreError } from "../store/errors.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  inSubcommand,
  pickSubcommand,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";

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

async function defaultOpen(stateDir: string): Promise<GuestStoreHandle> {
  const { openStore, defaultStorePath } = await import("../store/open.ts");
  return openStore({ path: defaultStorePath(stateDir), exclusive: false, mustExist: true });
}

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
  return inSubcommand(`guest ${sub}`, async () => {
    let json = false;
    try {
      json =
        parseArgs({ args: rest, options: { json: { type: "boolean" } }, strict: true }).values
          .json === true;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const cfg = await loadConfigOrReport(ctx, "guest provisioning");
    if (!cfg) return EXIT_USAGE;
    let store: GuestStoreHandle;
    try {
      store = await (ctx.deps?.openStore ?? defaultOpen)(cfg.state_dir);
    } catch (err) {
      if (err instanceof StoreError) return reportFailure(ctx, "guest provisioning", err.message);
      throw err;
    }
    try {
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
    } finally {
      store.close();
    }
  });
}
