import { parseArgs } from "node:util";
import { StoreError } from "../store/errors.ts";
import { loadConfigOrReport } from "./command-config.ts";
import { type CliContext, EXIT_USAGE, reportFailure, UsageError } from "./context.ts";

/** A read-only view of the state database that a listing command opens and closes. */
export interface ClosableStore {
  close(): void;
}

/**
 * The body every read-only listing subcommand shares (`golden list`, `guest provisioning`):
 * `--json` as its only flag, the config, the state database opened beside a running daemon
 * (a store that cannot be read is the one error line, exit 1), `show`, and the store closed.
 */
export async function runStoreListing<S extends ClosableStore>(
  ctx: CliContext,
  command: string,
  argv: readonly string[],
  open: (stateDir: string) => S | Promise<S>,
  show: (store: S, json: boolean) => number,
): Promise<number> {
  let json = false;
  try {
    json =
      parseArgs({ args: [...argv], options: { json: { type: "boolean" } }, strict: true }).values
        .json === true;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const cfg = await loadConfigOrReport(ctx, command);
  if (!cfg) return EXIT_USAGE;
  let store: S;
  try {
    store = await open(cfg.state_dir);
  } catch (err) {
    if (err instanceof StoreError) return reportFailure(ctx, command, err.message);
    throw err;
  }
  try {
    return show(store, json);
  } finally {
    store.close();
  }
}
