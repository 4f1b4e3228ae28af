import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { HubAcksError, hubAcksPath, readHubAcks } from "../daemon/hub-acks.ts";
import { hubIdentityPath } from "../hub/config-section.ts";
import { createLogger } from "../log/logger.ts";
import { backupStore, restoreStore, type StoreFileInfo } from "../store/backup.ts";
import { StoreError } from "../store/errors.ts";
import { defaultStorePath } from "../store/open.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_OK,
  EXIT_USAGE,
  inSubcommand,
  pickSubcommand,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] state backup FILE [--json]",
    "felhom-agent [--config PATH] state restore FILE [--json]",
  ],
  body: `The state database (<state_dir>/state.db): journal, held operations, nonces, audit log,
guest tokens, desired state and the report outbox.

  backup FILE    write a consistent copy to FILE (mode 0600), also while the daemon runs
                 (SQLite VACUUM INTO: one read transaction). FILE must not exist yet.
  restore FILE   put a backup in place of the state database. Refused while the daemon runs
                 (stop it first), when FILE is not a felhom-agent store or has a newer schema,
                 or, on an enrolled host, when FILE is a backup of another store. The replaced
                 database is kept as state.db.before-restore-TIME. The restore is audited.

Copying state.db with cp is not a backup: committed data may still be only in state.db-wal.`,
  examples: [
    "felhom-agent state backup /root/felhom-state-$(date +%F).db",
    "felhom-agent state restore /root/felhom-state-2026-06-01.db",
  ],
  exitCodes: "0 done, 1 refused or failed (the message says why), 2 usage or configuration error",
});

export const STATE_SUBCOMMANDS = ["backup", "restore"] as const;

export interface StateCliDeps {
  clock?: Clock;
}

export async function runState(
  argv: string[],
  ctx: CliContext & { deps?: StateCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("state", argv, STATE_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  return inSubcommand(`state ${sub}`, () => runStateSub(sub, rest, ctx));
}

async function runStateSub(
  sub: (typeof STATE_SUBCOMMANDS)[number],
  rest: string[],
  ctx: CliContext & { deps?: StateCliDeps },
): Promise<number> {
  let json = false;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: { json: { type: "boolean" } },
      strict: true,
      allowPositionals: true,
    });
    json = parsed.values.json === true;
    positionals = parsed.positionals;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0 || file === "") {
    throw new UsageError(`state ${sub} takes exactly one FILE`);
  }
  const cfg = await loadConfigOrReport(ctx, `state ${sub}`);
  if (!cfg) return EXIT_USAGE;
  const clock = ctx.deps?.clock ?? systemClock;
  const dbPath = defaultStorePath(cfg.state_dir);
  const path = resolve(file);
  try {
    if (sub === "backup") {
      const info = backupStore(dbPath, path);
      report(ctx, json, "backup", path, info);
      return EXIT_OK;
    }
    const acks = readHubAcks(hubAcksPath(hubIdentityPath(cfg.hub, cfg.state_dir)));
    const logger = createLogger({ level: cfg.log.level, sink: (l) => ctx.stderr(`${l}\n`), clock });
    const result = restoreStore({
      dbPath,
      from: path,
      clock,
      logger,
      ...(acks ? { expectStoreId: acks.store_id } : {}),
    });
    report(ctx, json, "restore", path, result.info, result.keptAt);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof StoreError || err instanceof HubAcksError) {
      return reportFailure(ctx, `state ${sub}`, err.message);
    }
    throw err;
  }
}

function report(
  ctx: CliContext,
  json: boolean,
  what: "backup" | "restore",
  file: string,
  info: StoreFileInfo,
  keptAt?: string,
): void {
  if (json) {
    ctx.stdout(
      `${JSON.stringify({
        [what === "backup" ? "written" : "restored_from"]: file,
        store_id: info.storeId,
        schema_version: info.schemaVersion,
        journal_entries: info.journalEntries,
        audit_rows: info.auditRows,
        bytes: info.bytes,
        ...(keptAt ? { replaced_kept_at: keptAt } : {}),
      })}\n`,
    );
    return;
  }
  const head = what === "backup" ? `backup written to ${file}` : `restored from ${file}`;
  ctx.stdout(
    `${head}: store ${info.storeId}, schema ${info.schemaVersion}, ${info.journalEntries} journal entries, ${info.auditRows} audit rows, ${info.bytes} bytes\n`,
  );
  if (keptAt) ctx.stdout(`the replaced database is kept at ${keptAt}\n`);
}
