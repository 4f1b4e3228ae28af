import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type AgentConfig, secretsOf } from "../daemon/agent-config.ts";
import { hubIdentityPath } from "../hub/config-section.ts";
import { HubIdentityError, identityExists } from "../hub/identity.ts";
import { createLogger } from "../log/logger.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { runHealthChecks } from "../selftest/health-report.ts";
import {
  renderCheck,
  renderExerciseSummary,
  renderHealthSummary,
  renderInventory,
  renderStep,
} from "../selftest/render.ts";
import { runTaskExercise } from "../selftest/task-exercise.ts";
import { auditTaskSelftest, taskGuardReasons } from "../selftest/task-guard.ts";
import { StoreError } from "../store/errors.ts";
import { defaultStorePath, openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = renderHelp({
  usage: [
    "felhom-agent [--config PATH] --selftest [--json]",
    "felhom-agent [--config PATH] --selftest=task --vmid N [--force] [--json]",
  ],
  body: `--selftest         read-only health report: Proxmox version, nodes and their ssl_fingerprint,
                   node status, containers, storage, and the token's privileges on / checked
                   against the 16 the agent needs (with the pveum lines that grant any missing
                   one). Changes nothing.
--selftest=task    exercises the task path on guest N: snapshot, rollback to it, delete it,
                   each waited and reported. Reversible, but the rollback does reset the guest
                   to the moment of the snapshot (seconds earlier) and restarts a running one.
                   Requires --vmid. Refused (exit 2, nothing changed) for a guest the
                   desired state manages or that has a local-API token, unless --force.
                   Audited either way.
--vmid N           the guest for --selftest=task
--force            exercise a customer's guest anyway (its rollback resets it to seconds
                   ago and restarts it; there is no gate, journal or signature for this)
--json             print the report as JSON on stdout`,
  examples: ["felhom-agent --selftest", "felhom-agent --selftest=task --vmid 9001 --json"],
  exitCodes: "0 healthy, 1 unhealthy or unreachable, 2 usage or configuration error",
});

export interface SelftestDeps {
  clock?: Clock;
  /** Builds the client; tests inject one bound to a simulator. */
  makeClient?: (cfg: AgentConfig, ctx: CliContext) => ProxmoxClient;
  /** Opens the state database (tests); default: state_dir's, shared with a running daemon. */
  openStore?: (cfg: AgentConfig) => Store;
}

export function parseSelftestArgs(argv: string[]): {
  mode: "read" | "task";
  vmid?: number;
  json: boolean;
  force: boolean;
  help: boolean;
} {
  let values: {
    selftest?: string | boolean;
    vmid?: string;
    json?: boolean;
    force?: boolean;
    help?: boolean;
  };
  try {
    // `--selftest` alone parses as a boolean flag; `--selftest=task` as a string.
    const normalized = argv.map((a) => (a === "--selftest" ? "--selftest=read" : a));
    ({ values } = parseArgs({
      args: normalized.filter((a) => a !== "selftest"),
      options: {
        selftest: { type: "string" },
        vmid: { type: "string" },
        json: { type: "boolean" },
        force: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const modeText = values.selftest ?? "read";
  if (modeText !== "read" && modeText !== "task") {
    throw new UsageError(`unknown selftest mode '${modeText}' (use --selftest or --selftest=task)`);
  }
  const out: ReturnType<typeof parseSelftestArgs> = {
    mode: modeText,
    json: values.json === true,
    force: values.force === true,
    help: values.help === true,
  };
  if (values.vmid !== undefined) {
    if (!/^[1-9][0-9]{2,8}$/.test(values.vmid)) {
      throw new UsageError(`--vmid must be a guest id (100–999999999), got '${values.vmid}'`);
    }
    out.vmid = Number(values.vmid);
  }
  if (out.mode === "task" && out.vmid === undefined && !out.help) {
    throw new UsageError("--selftest=task changes a guest and needs --vmid N to name it");
  }
  if (out.mode === "read" && out.vmid !== undefined) {
    throw new UsageError("--vmid is only used with --selftest=task");
  }
  if (out.mode === "read" && out.force) {
    throw new UsageError("--force is only used with --selftest=task");
  }
  return out;
}

export async function runSelftest(
  argv: string[],
  ctx: CliContext,
  deps: SelftestDeps = {},
): Promise<number> {
  const args = parseSelftestArgs(argv);
  if (args.help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const cfg = await loadConfigOrReport(ctx, "selftest");
  if (!cfg) return EXIT_USAGE;
  const clock = deps.clock ?? systemClock;
  let store: Store | undefined;
  if (args.mode === "task") {
    try {
      // Not exclusive: the daemon may be running and holds the lock. On an enrolled host the
      // store must already exist: a wiped one is not silently replaced by an empty one here.
      const enrolled = await identityExists(hubIdentityPath(cfg.hub, cfg.state_dir));
      store = deps.openStore
        ? deps.openStore(cfg)
        : openStore({
            path: defaultStorePath(cfg.state_dir),
            clock,
            exclusive: false,
            mustExist: enrolled,
          });
    } catch (err) {
      if (!(err instanceof StoreError || err instanceof HubIdentityError)) throw err;
      return reportFailure(
        ctx,
        "selftest",
        `--selftest=task needs the state database to check and audit guest ${args.vmid}: ${err.message}`,
      );
    }
  }
  try {
    return await runSelftestWith(args, cfg, ctx, deps, clock, store);
  } finally {
    store?.close();
  }
}

async function runSelftestWith(
  args: ReturnType<typeof parseSelftestArgs>,
  cfg: AgentConfig,
  ctx: CliContext,
  deps: SelftestDeps,
  clock: Clock,
  store: Store | undefined,
): Promise<number> {
  if (store !== undefined) {
    const vmid = args.vmid as number;
    const reasons = await taskGuardReasons({
      vmid,
      cache: store.desired,
      ...(cfg.desired_file !== undefined
        ? { desiredFile: { path: cfg.desired_file, read: readIfPresent } }
        : {}),
      tokens: () => store.guestTokens.list(),
    });
    if (reasons.length > 0 && !args.force) {
      auditTaskSelftest(store.audit, vmid, "refused", { reasons, force: false });
      return reportFailure(
        ctx,
        "selftest",
        `--selftest=task refused for guest ${vmid}: ${reasons.join("; ")}. ` +
          "Its rollback would reset a customer's guest to seconds ago and restart it, outside " +
          "the gate and the journal. Nothing was changed",
        "use a scratch guest, or add --force to run it anyway",
        EXIT_USAGE,
      );
    }
    auditTaskSelftest(store.audit, vmid, "started", { reasons, force: args.force });
  }
  const client = deps.makeClient
    ? deps.makeClient(cfg, ctx)
    : proxmoxClientFromConfig(cfg.proxmox, {
        logger: createLogger({
          level: cfg.log.level,
          sink: (line) => ctx.stderr(`${line}\n`),
          secrets: () => secretsOf(cfg),
        }),
        clock,
      });
  const say = (text: string) => {
    if (!args.json) ctx.stdout(text);
  };
  try {
    if (args.mode === "read") {
      say(
        `felhom-agent selftest: ${cfg.proxmox.endpoint}, node ${cfg.proxmox.node}, token ${client.tokenId}\n`,
      );
      const report = await runHealthChecks({
        client,
        endpoint: cfg.proxmox.endpoint,
        ...(cfg.proxmox.tls.kind === "fingerprint"
          ? { pinnedFingerprint: cfg.proxmox.tls.sha256 }
          : {}),
        onCheck: (c) => say(renderCheck(c)),
      });
      if (args.json) ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else say(renderInventory(report) + renderHealthSummary(report));
      return report.ok ? EXIT_OK : EXIT_FAILURE;
    }
    const vmid = args.vmid as number;
    say(
      `felhom-agent selftest=task: guest ${vmid} on ${cfg.proxmox.node} (${cfg.proxmox.endpoint})\n`,
    );
    const abort = new AbortController();
    const onSignal = () => abort.abort(new Error("interrupted"));
    process.once("SIGINT", onSignal);
    try {
      let lastPollNote = 0;
      const report = await runTaskExercise({
        client,
        clock,
        vmid,
        signal: abort.signal,
        onStepStart: (step, snap) => say(`  ...    ${step.padEnd(16)} ${snap}\n`),
        onPoll: (step, elapsedMs) => {
          // A heartbeat every 5 s so a slow task does not look hung.
          if (elapsedMs - lastPollNote >= 5000) {
            lastPollNote = elapsedMs;
            say(
              `         ${step.padEnd(16)} still running after ${Math.round(elapsedMs / 1000)} s\n`,
            );
          }
        },
        onStep: (s) => {
          lastPollNote = 0;
          say(renderStep(s));
        },
      });
      if (store !== undefined) {
        auditTaskSelftest(store.audit, vmid, report.ok ? "ok" : "failed", {
          snapshot: report.snapshot,
          left_clean: report.leftClean,
          steps: report.steps.map((s) => ({ step: s.step, ok: s.ok })),
        });
      }
      if (args.json) ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else say(renderExerciseSummary(report));
      return report.ok ? EXIT_OK : EXIT_FAILURE;
    } catch (err) {
      const message = (err as Error).message;
      if (store !== undefined) {
        auditTaskSelftest(store.audit, vmid, "failed", { error: message.slice(0, 500) });
      }
      return reportFailure(
        ctx,
        "selftest",
        `the task selftest could not start: ${message}`,
        "check that Proxmox is reachable with 'felhom-agent --selftest'",
      );
    } finally {
      process.off("SIGINT", onSignal);
    }
  } finally {
    client.close();
  }
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    // A desired_file that does not exist yet manages nothing, as for `run`.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
