import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { envelopeSchema } from "../authz/envelope.ts";
import { escapeUnsafeText, showUnsafeChars } from "../store/audit-text.ts";
import { StoreError } from "../store/errors.ts";
import type { OperatorRequest, OperatorRequestInput } from "../store/operator-requests.ts";
import type { PendingOp } from "../store/pending.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { loadOfflineConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  pickSubcommand,
  renderHelp,
  UsageError,
} from "./context.ts";
import { waitForDaemon } from "./daemon-answer.ts";
import { openExistingStore } from "./existing-store.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] pending list [--all] [--json]",
    "felhom-agent [--config PATH] pending show ID [--json]",
    "felhom-agent [--config PATH] pending approve ID --envelope FILE [--wait SECONDS] [--json]",
    "felhom-agent [--config PATH] pending decline ID --reason TEXT [--wait SECONDS] [--json]",
  ],
  body: `Destructive operations held as pending_signature: nothing runs them until an operator's signed
envelope for exactly that action arrives. These commands work whether or not this host is
enrolled with a hub.

  list              the held operations, oldest first (--all: released, rejected and expired
                    ones too)
  show ID           one held operation with its params, and what operators asked about it
  approve ID        hand the daemon a signed envelope for the held operation (made with
                    'felhom-agent op sign', or by the hub's operator tooling). The daemon
                    verifies it through the same gate as any other signature and, when it is
                    accepted, runs the operation
  decline ID        the operation will never run; --reason is kept in the audit log

Options:
  --envelope FILE   the envelope JSON ({"payload": …, "signature": …})
  --reason TEXT     why it is declined (at most 500 characters)
  --wait SECONDS    how long to wait for the daemon's answer (default 30; 0 = do not wait)
  --json            machine-readable output
  -h, --help        show this help

The daemon is the one process that runs operations: approve and decline queue the request in
the state database and the running daemon carries it out within a second or so. When no
daemon runs, the request waits for its next start.`,
  examples: [
    "felhom-agent pending show po-0123456789abcdef",
    "felhom-agent op sign --key ~/.ssh/id_ed25519 --host HOST_ID --op guest.destroy --vmid 101 --params '{}' > destroy.json",
    "felhom-agent pending approve po-0123456789abcdef --envelope destroy.json",
  ],
  exitCodes: "0 done (or queued, when --wait ran out), 1 refused or rejected, 2 usage error",
});

export const PENDING_SUBCOMMANDS = ["list", "show", "approve", "decline"] as const;

const PENDING_ID = /^po-[0-9a-f]{16}$/;
const MAX_ENVELOPE_FILE = 64 * 1024;
const DEFAULT_WAIT_S = 30;

/** The parts of the store the command uses; tests inject one. */
export interface PendingStoreHandle {
  pending: {
    byId(id: string): PendingOp | undefined;
    list(options?: { status?: PendingOp["status"]; limit?: number }): PendingOp[];
  };
  operatorRequests: {
    add(input: OperatorRequestInput): OperatorRequest;
    byId(id: number): OperatorRequest | undefined;
  };
  audit: {
    append(input: {
      actor: string;
      action: string;
      target: string | null;
      outcome: string;
      details?: Record<string, unknown>;
    }): unknown;
  };
  close(): void;
}

export interface PendingCliDeps {
  openStore?: (stateDir: string) => Promise<PendingStoreHandle> | PendingStoreHandle;
  clock?: Clock;
}

// Next to the running daemon; a host that never ran has nothing held.
const defaultOpen = (stateDir: string): Promise<PendingStoreHandle> => openExistingStore(stateDir);

const iso = (ms: number) => new Date(ms).toISOString();

function heldJson(p: PendingOp) {
  return {
    id: p.id,
    op: p.op,
    vmid: p.vmid,
    origin: p.origin,
    job_id: p.jobId,
    status: p.status,
    reason: p.reason,
    resolution: p.resolution,
    params: p.params,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

function heldLine(p: PendingOp): string {
  const fields = [
    p.id,
    p.status.padEnd(8),
    p.op,
    p.vmid === null ? "host" : `guest:${p.vmid}`,
    p.origin,
    iso(p.createdAt),
    p.reason ?? "",
  ];
  return `${fields.map(escapeUnsafeText).join("  ")}\n`;
}

function requestJson(r: OperatorRequest) {
  return {
    request: r.id,
    pending: r.pendingId,
    action: r.action,
    state: r.state,
    outcome: r.outcome,
    detail: r.detail,
    operation_id: r.operationId,
    asked_at: iso(r.createdAt),
  };
}

/** `felhom-agent pending`: see HELP. */
export async function runPending(
  argv: string[],
  ctx: CliContext & { deps?: PendingCliDeps },
): Promise<number> {
  const { sub, rest } = pickSubcommand("pending", argv, PENDING_SUBCOMMANDS);
  if (sub === "help" || rest.includes("--help") || rest.includes("-h")) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  let values: { all?: boolean; json?: boolean; envelope?: string; reason?: string; wait?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        all: { type: "boolean" },
        json: { type: "boolean" },
        envelope: { type: "string" },
        reason: { type: "string" },
        wait: { type: "string" },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const id = positionals[0];
  if (sub === "list") {
    if (positionals.length > 0 || values.envelope || values.reason || values.wait) {
      throw new UsageError("pending list takes only --all and --json");
    }
  } else {
    if (positionals.length !== 1 || id === undefined) {
      throw new UsageError(`pending ${sub} takes one held operation id (po-…; see 'pending list')`);
    }
    if (!PENDING_ID.test(id)) {
      throw new UsageError(`'${id}' is not a held operation id (po- and 16 hex digits)`);
    }
    if (values.all) throw new UsageError("--all goes with pending list");
  }
  if (sub === "approve" && (values.envelope === undefined || values.reason !== undefined)) {
    throw new UsageError("pending approve takes --envelope FILE (and no --reason)");
  }
  if (sub === "decline") {
    const reason = values.reason?.trim();
    if (!reason || values.envelope !== undefined) {
      throw new UsageError("pending decline takes --reason TEXT (and no --envelope)");
    }
    if (reason.length > 500) throw new UsageError("--reason is at most 500 characters");
  }
  if ((sub === "list" || sub === "show") && values.wait !== undefined) {
    throw new UsageError("--wait goes with approve and decline");
  }
  const waitS = parseWait(values.wait);
  const envelopeText =
    sub === "approve" ? await readEnvelope(values.envelope as string) : undefined;

  const cfg = await loadOfflineConfigOrReport(ctx, "pending");
  if (!cfg) return EXIT_USAGE;
  let store: PendingStoreHandle;
  try {
    store = await (ctx.deps?.openStore ?? defaultOpen)(cfg.state_dir);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    if (err.kind === "missing" && (sub === "list" || sub === "show")) {
      if (sub === "list") {
        ctx.stdout(
          values.json ? "[]\n" : "nothing held (the agent has not run on this host yet)\n",
        );
        return EXIT_OK;
      }
    }
    ctx.stderr(
      `felhom-agent: pending ${sub}: the state database cannot be opened: ${err.message}; start the agent once (felhom-agent run) or fix the state directory\n`,
    );
    return EXIT_FAILURE;
  }
  try {
    if (sub === "list") {
      const rows = store.pending.list(values.all ? { limit: 1000 } : { status: "pending" });
      if (values.json) ctx.stdout(`${JSON.stringify(rows.map(heldJson), null, 2)}\n`);
      else if (rows.length === 0) ctx.stdout("nothing held\n");
      else for (const r of rows) ctx.stdout(heldLine(r));
      return EXIT_OK;
    }
    const held = store.pending.byId(id as string);
    if (held === undefined) {
      ctx.stderr(
        `felhom-agent: pending ${sub}: no held operation ${id}; see 'felhom-agent pending list --all'\n`,
      );
      return EXIT_FAILURE;
    }
    if (sub === "show") {
      if (values.json) ctx.stdout(`${JSON.stringify(heldJson(held), null, 2)}\n`);
      else {
        ctx.stdout(heldLine(held));
        ctx.stdout(`params: ${showUnsafeChars(JSON.stringify(held.params))}\n`);
        if (held.resolution) ctx.stdout(`resolution: ${escapeUnsafeText(held.resolution)}\n`);
      }
      return EXIT_OK;
    }
    if (held.status !== "pending") {
      ctx.stderr(
        `felhom-agent: pending ${sub}: ${id} is already ${held.status}; nothing to ${sub}\n`,
      );
      return EXIT_FAILURE;
    }
    const input: OperatorRequestInput =
      sub === "approve"
        ? { pendingId: held.id, action: "approve", envelope: envelopeText as string }
        : { pendingId: held.id, action: "decline", reason: (values.reason as string).trim() };
    const queued = store.operatorRequests.add(input);
    store.audit.append({
      actor: "operator",
      action: `pending.${sub}`,
      target: held.vmid === null ? null : `guest:${held.vmid}`,
      outcome: "requested",
      details: { pending: held.id, op: held.op, request: queued.id },
    });
    const answer = await waitForAnswer(store, queued.id, waitS, ctx.deps?.clock ?? systemClock);
    return report(ctx, sub, answer ?? queued, values.json === true);
  } finally {
    store.close();
  }
}

function parseWait(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_S;
  if (!/^\d{1,4}$/.test(text) || Number(text) > 3600) {
    throw new UsageError(`--wait must be whole seconds 0..3600, got '${text}'`);
  }
  return Number(text);
}

async function readEnvelope(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read envelope file '${file}': ${(e as Error).message}`);
  }
  if (text.length > MAX_ENVELOPE_FILE) {
    throw new UsageError(`envelope file '${file}' is larger than ${MAX_ENVELOPE_FILE} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`envelope file '${file}' is not JSON`);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `envelope file '${file}' is not an envelope: ${issue ? `${issue.path.join(".") || "(file)"}: ${issue.message}` : "invalid"}`,
    );
  }
  // The daemon verifies exactly what the operator handed over; only the shape is checked here.
  return JSON.stringify(parsed.data);
}

async function waitForAnswer(
  store: PendingStoreHandle,
  requestId: number,
  waitS: number,
  clock: Clock,
): Promise<OperatorRequest | undefined> {
  const answered = () => {
    const r = store.operatorRequests.byId(requestId);
    return r === undefined || r.state === "done";
  };
  await waitForDaemon(answered, waitS, clock);
  return store.operatorRequests.byId(requestId);
}

function report(ctx: CliContext, sub: string, r: OperatorRequest, json: boolean): number {
  const ok = r.state === "waiting" || r.outcome === "accepted" || r.outcome === "declined";
  if (json) {
    ctx.stdout(`${JSON.stringify(requestJson(r), null, 2)}\n`);
    return ok ? EXIT_OK : EXIT_FAILURE;
  }
  if (r.state === "waiting") {
    ctx.stdout(
      `queued as request ${r.id}: the daemon has not taken it yet; it does within a second or so while felhom-agent runs, else at its next start. See 'felhom-agent pending show ${r.pendingId}' and 'felhom-agent audit'\n`,
    );
    return EXIT_OK;
  }
  if (ok) {
    ctx.stdout(
      `${r.pendingId}: ${r.outcome}${r.detail ? ` (${escapeUnsafeText(r.detail)})` : ""}\n`,
    );
    return EXIT_OK;
  }
  ctx.stderr(
    `felhom-agent: pending ${sub}: ${r.pendingId} ${r.outcome}${r.detail ? `: ${escapeUnsafeText(r.detail)}` : ""}; the operation stays held, see 'felhom-agent op check' for the envelope\n`,
  );
  return EXIT_FAILURE;
}
