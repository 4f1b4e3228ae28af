import { parseArgs } from "node:util";
import { secretsOf } from "../config/redact.ts";
import type { AgentConfig } from "../config/sections.ts";
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
import { type Clock, systemClock } from "../util/clock.ts";
import { loadConfigOrReport } from "./command-config.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./context.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = `Usage: felhom-agent [--config PATH] --selftest [--json]
       felhom-agent [--config PATH] --selftest=task --vmid N [--json]

--selftest         read-only health report: Proxmox version, nodes and their ssl_fingerprint,
                   node status, containers, storage, and the token's privileges on / checked
                   against the 16 the agent needs (with the pveum lines that grant any missing
                   one). Changes nothing.
--selftest=task    exercises the task path on guest N: snapshot, rollback to it, delete it,
                   each waited and reported. Reversible, but the rollback does reset the guest
                   to the moment of the snapshot (seconds earlier) and restarts a running one.
                   Requires --vmid.
--vmid N           the guest for --selftest=task
--json             print the report as JSON on stdout

Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 usage or configuration error.
`;

export interface SelftestDeps {
  clock?: Clock;
  /** Builds the client; tests inject one bound to a simulator. */
  makeClient?: (cfg: AgentConfig, ctx: CliContext) => ProxmoxClient;
}

export function parseSelftestArgs(argv: string[]): {
  mode: "read" | "task";
  vmid?: number;
  json: boolean;
  help: boolean;
} {
  let values: { selftest?: string | boolean; vmid?: string; json?: boolean; help?: boolean };
  try {
    // `--selftest` alone parses as a boolean flag; `--selftest=task` as a string.
    const normalized = argv.map((a) => (a === "--selftest" ? "--selftest=read" : a));
    ({ values } = parseArgs({
      args: normalized.filter((a) => a !== "selftest"),
      options: {
        selftest: { type: "string" },
        vmid: { type: "string" },
        json: { type: "boolean" },
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
  const cfg = await loadConfigOrReport(ctx);
  if (!cfg) return EXIT_USAGE;
  const clock = deps.clock ?? systemClock;
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
      if (args.json) ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else say(renderExerciseSummary(report));
      return report.ok ? EXIT_OK : EXIT_FAILURE;
    } catch (err) {
      ctx.stderr(`felhom-agent: task selftest could not start: ${(err as Error).message}\n`);
      return EXIT_FAILURE;
    } finally {
      process.off("SIGINT", onSignal);
    }
  } finally {
    client.close();
  }
}
