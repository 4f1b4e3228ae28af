import type { AuditInput } from "../store/audit.ts";
import type { BackupRecord } from "../store/backup-history.ts";
import type { BackupRequest } from "../store/backup-requests.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  CommandFailure,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
  UsageError,
} from "./context.ts";
import { waitForDaemon } from "./daemon-answer.ts";
import { openExistingStore } from "./existing-store.ts";
import { parseFlags } from "./flags.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] backup list [--vmid N] [--limit N] [--all] [--json]",
    "felhom-agent [--config PATH] backup run --vmid N [--storage ID] [--wait S] [--json]",
  ],
  body: `list: the backups the agent knows of, newest first, from the state database (works while
the daemon runs; nothing is changed, Proxmox is not asked): every guest.backup that ended,
whether the schedule, a hub job, a guest or an operator asked for it, with the archive it
wrote, or why it failed; and archives found on the storages (result seen). Backups that
retention, a delete or someone by hand removed keep a row with result removed, shown with
--all only.

run: asks the running daemon for a backup of one guest now. The daemon submits it to its
engine like any other operation (gated, journaled, audited; it never prunes), to --storage or
else the guest's backup storage from the desired state. The command waits up to --wait
seconds (default 10) for the daemon to take it and prints the operation id; without a daemon
the request waits for its next start.

Options:
  --vmid N      one guest only (list), the guest to back up (run)
  --limit N     at most N rows (default 100)
  --all         list: removed backups too, with why and when
  --storage ID  run: the storage to write to
  --wait S      run: seconds to wait for the daemon (0..3600, default 10)
  --json        list: an array of {vmid, storage, volid, started_at, finished_at, result,
                size, reason, protected, removed_at}; run: {request, vmid, storage, state, outcome, operation_id, detail}
  -h, --help    show this help

What it prints:
  VMID  STORAGE  RESULT  FINISHED              SIZE  VOLID / REASON
  101   nas1     ok      2026-06-02T01:14:09Z  -     nas1:backup/vzdump-lxc-101-2026_06_02-01_14_02.tar.zst`,
  examples: [
    "felhom-agent backup list",
    "felhom-agent backup list --vmid 101 --json",
    "felhom-agent backup list --all",
    "felhom-agent backup run --vmid 101 --storage nas1",
  ],
  exitCodes:
    "0 listed, or the backup was taken up (or still waits for the daemon), 1 the state database could not be read or the backup was refused, 2 usage or configuration error",
});

/** The store part `backup list` reads; tests inject one. */
export interface BackupStoreHandle {
  backupHistory: { list(o: { vmid?: number; limit?: number; all?: boolean }): BackupRecord[] };
  backupRequests: {
    queue(vmid: number, storage?: string): BackupRequest;
    byId(id: number): BackupRequest | undefined;
  };
  audit: { append(input: AuditInput): unknown };
  close(): void;
}

export interface BackupCliDeps {
  openStore?: (stateDir: string) => Promise<BackupStoreHandle>;
  clock?: Clock;
}

const defaultOpen = (stateDir: string): Promise<BackupStoreHandle> => openExistingStore(stateDir);

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
    protected: r.protected === true,
    removed_at: iso(r.removedAt ?? null),
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
    r.result === "failed"
      ? (r.reason ?? "-")
      : r.result === "removed"
        ? `${r.volid ?? "-"} (${r.reason ?? "removed"})`
        : `${r.volid ?? "-"}${r.protected === true ? " (protected)" : ""}`,
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

const STORAGE_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

async function openOrFail(ctx: CliContext & { deps?: BackupCliDeps }, stateDir: string) {
  try {
    return await (ctx.deps?.openStore ?? defaultOpen)(stateDir);
  } catch (err) {
    throw new CommandFailure(
      `the state database could not be read: ${(err as Error).message}`,
      "check state_dir in the config, or run the daemon once to create it",
    );
  }
}

/** `felhom-agent backup list|run`: see HELP. */
export async function runBackup(
  argv: string[],
  ctx: CliContext & { deps?: BackupCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("backup", argv, ["list", "run"]);
  if (sub === "help") {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const { values } = parseFlags(rest, {
    json: { type: "boolean" },
    all: { type: "boolean" },
    vmid: { type: "string" },
    limit: { type: "string" },
    storage: { type: "string" },
    wait: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const vmid = intFlag(values.vmid as string | undefined, "vmid", 100, 999_999_999);
  if (sub === "run") {
    if (vmid === undefined) throw new UsageError("backup run needs --vmid N", "backup run");
    const storage = values.storage as string | undefined;
    if (storage !== undefined && !STORAGE_ID.test(storage)) {
      throw new UsageError(`--storage '${storage}' is not a Proxmox storage id`, "backup run");
    }
    const waitS = intFlag(values.wait as string | undefined, "wait", 0, 3600) ?? 10;
    const cfg = await loadOfflineConfigOrReport(ctx, "backup run");
    if (!cfg) return EXIT_USAGE;
    const store = await openOrFail(ctx, cfg.state_dir);
    try {
      const queued = store.backupRequests.queue(vmid, storage);
      store.audit.append({
        actor: "operator",
        action: "backup.run",
        target: `guest:${vmid}`,
        outcome: "requested",
        details: { request: queued.id, ...(storage !== undefined ? { storage } : {}) },
      });
      const clock = ctx.deps?.clock ?? systemClock;
      let r = queued;
      const answered = () => {
        r = store.backupRequests.byId(queued.id) ?? r;
        return r.state !== "waiting";
      };
      await waitForDaemon(answered, waitS, clock);
      return reportRun(ctx, r, values.json === true);
    } finally {
      store.close();
    }
  }
  const limit = intFlag(values.limit as string | undefined, "limit", 1, 100_000) ?? 100;
  const cfg = await loadOfflineConfigOrReport(ctx, "backup list");
  if (!cfg) return EXIT_USAGE;
  const store = await openOrFail(ctx, cfg.state_dir);
  try {
    const rows = store.backupHistory.list({
      ...(vmid !== undefined ? { vmid } : {}),
      limit,
      all: values.all === true,
    });
    ctx.stdout(values.json ? `${JSON.stringify(rows.map(jsonRow), null, 2)}\n` : table(rows));
    return EXIT_OK;
  } finally {
    store.close();
  }
}

function reportRun(ctx: CliContext, r: BackupRequest, json: boolean): number {
  const taken = r.outcome === "queued" || r.outcome === "running" || r.outcome === "done";
  const ok = r.state === "waiting" || taken;
  if (json) {
    ctx.stdout(
      `${JSON.stringify(
        {
          request: r.id,
          vmid: r.vmid,
          storage: r.storage,
          state: r.state,
          outcome: r.outcome,
          operation_id: r.operationId,
          detail: r.detail,
        },
        null,
        2,
      )}\n`,
    );
    return ok ? EXIT_OK : EXIT_FAILURE;
  }
  if (r.state === "waiting") {
    ctx.stdout(
      `queued as request ${r.id}: the daemon has not taken it yet; it does within a second or so while felhom-agent runs, else at its next start\n`,
    );
    return EXIT_OK;
  }
  if (taken) {
    ctx.stdout(
      `backup of guest ${r.vmid} submitted as ${r.operationId ?? "?"} (${r.outcome}); see 'felhom-agent backup list --vmid ${r.vmid}'\n`,
    );
    return EXIT_OK;
  }
  ctx.stderr(
    `felhom-agent: backup run: the backup of guest ${r.vmid} was not started (${r.outcome}${r.detail ? `: ${r.detail}` : ""}); see 'felhom-agent audit'\n`,
  );
  return EXIT_FAILURE;
}
