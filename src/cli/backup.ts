import type { BackupRecord } from "../store/backup-history.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  CommandFailure,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
  UsageError,
} from "./context.ts";
import { parseFlags } from "./flags.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] backup list [--vmid N] [--limit N] [--json]"],
  body: `The backups the agent knows of, newest first, from the state database (works while the
daemon runs; nothing is changed, Proxmox is not asked): every guest.backup that ended, whether
the schedule, a hub job, a guest or an operator asked for it, with the archive it wrote, or
why it failed.

Options:
  --vmid N    one guest only
  --limit N   at most N rows (default 100)
  --json      an array of {vmid, storage, volid, started_at, finished_at, result, size, reason}
  -h, --help  show this help

What it prints:
  VMID  STORAGE  RESULT  FINISHED              SIZE  VOLID / REASON
  101   nas1     ok      2026-06-02T01:14:09Z  -     nas1:backup/vzdump-lxc-101-2026_06_02-01_14_02.tar.zst`,
  examples: ["felhom-agent backup list", "felhom-agent backup list --vmid 101 --json"],
  exitCodes: "0 listed, 1 the state database could not be read, 2 usage or configuration error",
});

/** The store part `backup list` reads; tests inject one. */
export interface BackupStoreHandle {
  backupHistory: { list(o: { vmid?: number; limit?: number }): BackupRecord[] };
  close(): void;
}

export interface BackupCliDeps {
  openStore?: (stateDir: string) => Promise<BackupStoreHandle>;
}

async function defaultOpen(stateDir: string): Promise<BackupStoreHandle> {
  const { openStore, defaultStorePath } = await import("../store/open.ts");
  return openStore({ path: defaultStorePath(stateDir), exclusive: false, mustExist: true });
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The `--json` row: the field names scripts rely on. */
function jsonRow(r: BackupRecord) {
  return {
    vmid: r.vmid,
    storage: r.storage,
    volid: r.volid,
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    result: r.result,
    size: r.size,
    reason: r.reason,
  };
}

function table(rows: BackupRecord[]): string {
  const head = ["VMID", "STORAGE", "RESULT", "FINISHED", "SIZE", "VOLID / REASON"];
  const lines = rows.map((r) => [
    String(r.vmid),
    r.storage,
    r.result,
    (iso(r.finishedAt) ?? "-").replace(/\.\d{3}Z$/, "Z"),
    r.size === null ? "-" : String(r.size),
    r.result === "failed" ? (r.reason ?? "-") : (r.volid ?? "-"),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l[i] as string).length)),
  );
  const fmt = (l: string[]) =>
    l
      .map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return `${[head, ...lines].map(fmt).join("\n")}\n`;
}

function intFlag(value: string | undefined, name: string, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number in ${min}..${max}, got '${value}'`);
  }
  return n;
}

/** `felhom-agent backup list`: see HELP. */
export async function runBackup(
  argv: string[],
  ctx: CliContext & { deps?: BackupCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("backup", argv, ["list"]);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const { values } = parseFlags(rest, {
    json: { type: "boolean" },
    vmid: { type: "string" },
    limit: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const vmid = intFlag(values.vmid as string | undefined, "vmid", 100, 999_999_999);
  const limit = intFlag(values.limit as string | undefined, "limit", 1, 100_000) ?? 100;
  const cfg = await loadOfflineConfigOrReport(ctx, "backup list");
  if (!cfg) return EXIT_USAGE;
  let store: BackupStoreHandle;
  try {
    store = await (ctx.deps?.openStore ?? defaultOpen)(cfg.state_dir);
  } catch (err) {
    throw new CommandFailure(
      `the state database could not be read: ${(err as Error).message}`,
      "check state_dir in the config, or run the daemon once to create it",
    );
  }
  try {
    const rows = store.backupHistory.list({ ...(vmid !== undefined ? { vmid } : {}), limit });
    ctx.stdout(values.json ? `${JSON.stringify(rows.map(jsonRow), null, 2)}\n` : table(rows));
    return EXIT_OK;
  } finally {
    store.close();
  }
}
