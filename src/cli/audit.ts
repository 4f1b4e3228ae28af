import { existsSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AuditRow, ChainVerdict } from "../store/audit.ts";
import { escapeUnsafeText, showUnsafeChars } from "../store/audit-text.ts";
import { StoreError } from "../store/errors.ts";
import { defaultStorePath } from "../store/open.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] audit [list] [--json] [--after SEQ] [--since WHEN] [--limit N] [--verify]",
    "felhom-agent [--config PATH] audit verify [--json]",
  ],
  body: `The audit log: every operator-initiated action and every decision of the signature gate, with
who (signer:NAME, hub, guest:VMID, reconcile, operator), what, on which guest and the outcome.
Each row is chained to the one before it by SHA-256, so a changed, removed or inserted row shows.

  list             print rows, oldest first (the default)
  verify           walk the whole chain and report whether it holds: from the first row, or
                   from the anchor (the last row pruned after the hub acknowledged it and
                   hub.audit_retention_days passed); rows the hub acknowledged that the log
                   no longer has are reported too

Options:
  --json           machine-readable output (the same data the customer export carries)
  --after SEQ      only rows after sequence number SEQ (to follow the log)
  --since WHEN     only rows at or after WHEN: an ISO time (2026-06-01T12:00:00Z) or an age
                   (90m, 24h, 7d)
  --limit N        at most N rows (default 1000, at most 10000)
  --verify         also verify the chain after listing; exit 1 when it does not hold

Works while the daemon runs (the state database is shared in WAL mode); reads only. Needs no
proxmox section in the configuration. Before the daemon has run there are no rows yet: both
subcommands say so and exit 0.`,
  examples: ["felhom-agent audit --since 24h", "felhom-agent audit verify --json"],
});

/** The parts of the store the command uses; tests inject one. */
export interface AuditStoreHandle {
  audit: {
    list(options: { afterSeq?: number; sinceTs?: number; limit?: number }): AuditRow[];
    verifyChain(): ChainVerdict;
  };
  close(): void;
}

export interface AuditCliDeps {
  /** `undefined` when the host has no state database yet (the daemon has not run). */
  openStore?: (
    stateDir: string,
  ) => Promise<AuditStoreHandle | undefined> | AuditStoreHandle | undefined;
  clock?: Clock;
}

async function defaultOpen(stateDir: string): Promise<AuditStoreHandle | undefined> {
  const { openStore } = await import("../store/open.ts");
  const path = defaultStorePath(stateDir);
  // No file (or an empty one) is a host where the daemon has not run: no rows yet, nothing to
  // verify. Reading the log never creates a database, and a file that is there but holds no
  // schema is still the store's error (a copy without its -wal file).
  if (!existsSync(path) || statSync(path).size === 0) return undefined;
  return openStore({ path, exclusive: false, mustExist: true });
}

/** `7d`, `24h`, `90m`, `30s` ago, or an ISO time with a zone; ms since the epoch. */
export function parseSince(text: string, nowMs: number): number {
  const age = /^(\d{1,6})([smhd])$/.exec(text);
  if (age) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
      age[2] as "s" | "m" | "h" | "d"
    ];
    return Math.max(0, nowMs - Number(age[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw new UsageError(
    `--since must be an ISO time (2026-06-01T12:00:00Z) or an age like 90m, 24h, 7d; got '${text}'`,
  );
}

function parseCount(text: string | undefined, flag: string, min: number, max: number) {
  if (text === undefined) return undefined;
  const n = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${flag} must be an integer ${min}..${max}, got '${text}'`);
  }
  return n;
}

/** A row as the customer export shows it: details as JSON, times as ISO text. */
export function exportRow(row: AuditRow): Record<string, unknown> {
  return {
    seq: row.seq,
    time: new Date(row.ts).toISOString(),
    actor: row.actor,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    details: JSON.parse(row.details),
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

/**
 * One row per line. Rows can carry text a guest chose, so control and bidi characters are shown
 * as escapes: a row cannot span lines or reorder what the terminal shows (src/store/audit-text.ts).
 */
export function textRow(row: AuditRow): string {
  const details = row.details === "{}" ? "" : `  ${showUnsafeChars(row.details)}`;
  const fields = [row.actor, row.action, row.target ?? "-", row.outcome].map(escapeUnsafeText);
  return `${String(row.seq).padStart(6)}  ${new Date(row.ts).toISOString()}  ${fields.join("  ")}${details}\n`;
}

function verdictText(v: ChainVerdict): string {
  if (!v.ok) return `chain BROKEN at row ${v.firstBadSeq}: ${v.reason}\n`;
  const from =
    v.anchorSeq === undefined
      ? ""
      : ` after anchor row ${v.anchorSeq} (older rows pruned once the hub held them)`;
  return `chain verified: ${v.count} row${v.count === 1 ? "" : "s"}${from}, head ${v.headHash}\n`;
}

function verdictJson(v: ChainVerdict): Record<string, unknown> {
  if (!v.ok) return { ok: false, first_bad_seq: v.firstBadSeq, reason: v.reason };
  return {
    ok: true,
    count: v.count,
    head_hash: v.headHash,
    ...(v.anchorSeq !== undefined ? { anchor_seq: v.anchorSeq } : {}),
  };
}

/** A host where the daemon has not run: an empty log, which trivially holds. */
function noRowsYet(sub: "list" | "verify", json: boolean, dbPath: string): string {
  if (json) {
    const out = sub === "verify" ? { ok: true, count: 0, database: "absent" } : { rows: [] };
    return `${JSON.stringify(out, null, 2)}\n`;
  }
  return `no audit rows yet (no state database at ${dbPath}: the daemon has not run on this host)\n`;
}

export async function runAudit(
  argv: string[],
  ctx: CliContext & { deps?: AuditCliDeps },
): Promise<number> {
  const first = argv[0];
  const sub = first === "list" || first === "verify" ? first : "list";
  const rest = first === sub ? argv.slice(1) : argv;
  let values: {
    json?: boolean;
    after?: string;
    since?: string;
    limit?: string;
    verify?: boolean;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        json: { type: "boolean" },
        after: { type: "string" },
        since: { type: "string" },
        limit: { type: "string" },
        verify: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unknown audit subcommand '${positionals[0]}' (list, verify)`);
  }
  const clock = ctx.deps?.clock ?? systemClock;
  const afterSeq = parseCount(values.after, "--after", 0, Number.MAX_SAFE_INTEGER);
  const limit = parseCount(values.limit, "--limit", 1, 10_000);
  const sinceTs = values.since === undefined ? undefined : parseSince(values.since, clock.now());
  if (
    sub === "verify" &&
    (afterSeq !== undefined || sinceTs !== undefined || limit !== undefined)
  ) {
    throw new UsageError("audit verify always walks the whole chain; it takes only --json");
  }

  const cfg = await loadOfflineConfigOrReport(ctx, `audit ${sub}`);
  if (!cfg) return EXIT_USAGE;
  let store: AuditStoreHandle | undefined;
  try {
    store = await (ctx.deps?.openStore ?? defaultOpen)(cfg.state_dir);
  } catch (err) {
    if (err instanceof StoreError) {
      return reportFailure(ctx, `audit ${sub}`, err.message);
    }
    throw err;
  }
  if (store === undefined) {
    ctx.stdout(noRowsYet(sub, values.json === true, defaultStorePath(cfg.state_dir)));
    return EXIT_OK;
  }

  try {
    if (sub === "verify") {
      const verdict = store.audit.verifyChain();
      ctx.stdout(
        values.json ? `${JSON.stringify(verdictJson(verdict), null, 2)}\n` : verdictText(verdict),
      );
      return verdict.ok ? EXIT_OK : EXIT_FAILURE;
    }
    const rows = store.audit.list({
      ...(afterSeq === undefined ? {} : { afterSeq }),
      ...(sinceTs === undefined ? {} : { sinceTs }),
      ...(limit === undefined ? {} : { limit }),
    });
    const verdict = values.verify ? store.audit.verifyChain() : undefined;
    if (values.json) {
      const out: Record<string, unknown> = { rows: rows.map(exportRow) };
      if (verdict) out.chain = verdictJson(verdict);
      ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      if (rows.length === 0) ctx.stdout("no audit rows\n");
      for (const row of rows) ctx.stdout(textRow(row));
      if (verdict) ctx.stdout(verdictText(verdict));
    }
    return verdict && !verdict.ok ? EXIT_FAILURE : EXIT_OK;
  } catch (err) {
    if (err instanceof StoreError) {
      return reportFailure(ctx, `audit ${sub}`, err.message);
    }
    throw err;
  } finally {
    store.close();
  }
}
