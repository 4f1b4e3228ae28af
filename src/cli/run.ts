import { parseArgs } from "node:util";
import { secretsOfSections } from "../config/redact.ts";
import { agentSections } from "../daemon/agent-config.ts";
import {
  type AgentDaemonOptions,
  type AgentReady,
  AgentStartError,
  runAgentDaemon,
} from "../daemon/agent-daemon.ts";
import { HubAcksError } from "../daemon/hub-acks.ts";
import { openDaemonStore } from "../daemon/state-binding.ts";
import type { UpdateTiming } from "../daemon/update-driver.ts";
import { hubIdentityPath } from "../hub/config-section.ts";
import { HubIdentityError, identityExists } from "../hub/identity.ts";
import { stderrIsJournal } from "../log/journald.ts";
import { createLogger, lineSink } from "../log/logger.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { EngineHooks } from "../reconcile/engine.ts";
import type { PassReport } from "../reconcile/reconciler.ts";
import { StoreError } from "../store/errors.ts";
import { defaultStorePath } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { AGENT_VERSION } from "../version.ts";
import { loadConfigOrReport } from "./command-config.ts";
import {
  type CliContext,
  EXIT_OK,
  EXIT_USAGE,
  renderHelp,
  reportFailure,
  UsageError,
} from "./context.ts";
import { insecureRunRefusal } from "./insecure-endpoint.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = renderHelp({
  usage: ["felhom-agent [--config PATH] run [--new-state]"],
  body: `Runs the agent daemon: opens the state database, settles every operation a previous run left
in flight (from Proxmox's real task status; nothing is re-sent blindly), then
  - converges the guests named in desired state, one journaled operation per guest at a time;
  - serves the local API to in-guest controllers (local_api, unless local_api.enabled is false);
  - when enrolled (felhom-agent enroll), polls the hub for desired state and jobs and reports.
Every mutation passes the reversibility gate: destructive ones wait for an operator's signature.

Desired state comes from the hub when enrolled, else from desired_file (docs/desired-state.md).
Until one has been received, nothing is changed. SIGTERM/SIGINT: in-flight tasks are journaled
and resumed at the next start; exit 0. Logs are JSON lines on stderr; under systemd each line
starts with its syslog priority, so 'journalctl -u felhom-agent -p warning' works.

On an enrolled host the state database must be the one it ran on (named in hub-acks.json
beside the hub identity): a missing, emptied or different one is refused. Restore it with
\`felhom-agent state restore FILE\`, or start empty on purpose:

  --new-state   keep the current database aside (state.db.replaced-TIME), start an empty one,
                audit it (state.new), and continue report and audit numbering from what
                the hub acknowledged. Journal, held operations and tokens start empty.`,
  examples: ["felhom-agent --config /etc/felhom-agent/agent.json run"],
  exitCodes: "0 stopped by a signal, 1 start-up failure, 2 usage or configuration error",
});

/** The sections `run` reads: the whole agent configuration. */
export const RUN_SECTIONS = agentSections;

export interface RunDeps {
  clock?: Clock;
  /** Builds the client; tests inject one bound to a simulator. */
  makeClient?: () => ProxmoxClient;
  /** Test-only instants between durable steps (see EngineHooks). */
  hooks?: EngineHooks;
  /** Stops the daemon instead of SIGTERM/SIGINT (tests, the demo). */
  signal?: AbortSignal;
  /** Once recovery is done and the local API and hub link run (tests, the demo). */
  onReady?: (ready: AgentReady) => void;
  onPass?: (report: PassReport) => void;
  /** Self-update pacing; tests shorten it. */
  updateTiming?: Partial<UpdateTiming>;
  /** The root side for USB mounts and the mount table (the demo and tests: the simulator's host). */
  privileged?: AgentDaemonOptions["privileged"];
  mounts?: AgentDaemonOptions["mounts"];
  /** Host health: the root side for SMART and sensors, and where /metrics came up (tests). */
  healthPrivileged?: AgentDaemonOptions["healthPrivileged"];
  onHealth?: AgentDaemonOptions["onHealth"];
  onMetrics?: AgentDaemonOptions["onMetrics"];
}

export async function runDaemon(
  argv: string[],
  ctx: CliContext,
  deps: RunDeps = {},
): Promise<number> {
  let help = false;
  let newState = false;
  try {
    const { values } = parseArgs({
      args: argv.filter((a, i) => !(i === 0 && a === "run")),
      options: { help: { type: "boolean", short: "h" }, "new-state": { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    });
    help = values.help === true;
    newState = values["new-state"] === true;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  const cfg = await loadConfigOrReport(ctx, "run");
  if (cfg === undefined) return EXIT_USAGE;
  const insecure = insecureRunRefusal(cfg.proxmox);
  if (insecure !== undefined) {
    return reportFailure(ctx, "run", insecure, undefined, EXIT_USAGE);
  }
  const clock = deps.clock ?? systemClock;
  const logger = createLogger({
    level: cfg.log.level,
    // Under systemd each line carries its priority (docs/architecture.md#logs).
    sink: lineSink(ctx.stderr, stderrIsJournal(ctx.env)),
    secrets: () => secretsOfSections(RUN_SECTIONS, cfg),
    clock,
  });
  let store: Store;
  try {
    const identityPath = hubIdentityPath(cfg.hub, cfg.state_dir);
    store = openDaemonStore({
      storePath: defaultStorePath(cfg.state_dir),
      identityPath,
      enrolled: await identityExists(identityPath),
      newState,
      clock,
      logger,
    });
  } catch (err) {
    if (
      err instanceof StoreError ||
      err instanceof HubAcksError ||
      err instanceof HubIdentityError
    ) {
      return reportFailure(ctx, "run", err.message);
    }
    throw err;
  }
  const client = deps.makeClient
    ? deps.makeClient()
    : proxmoxClientFromConfig(cfg.proxmox, { logger, clock });
  const stop = new AbortController();
  const onSignal = (name: string) => () => {
    logger.info("stopping", { signal: name });
    stop.abort(new Error(`received ${name}`));
  };
  const onTerm = onSignal("SIGTERM");
  const onInt = onSignal("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  const onDepsAbort = () => stop.abort(deps.signal?.reason);
  if (deps.signal?.aborted) stop.abort(deps.signal.reason);
  deps.signal?.addEventListener("abort", onDepsAbort, { once: true });
  logger.info("felhom-agent daemon starting", {
    version: AGENT_VERSION,
    store: store.info.path,
    store_created: store.info.created,
    interval_s: cfg.reconcile.interval_s,
    concurrency: cfg.reconcile.concurrency,
    local_api: cfg.local_api.enabled,
  });
  try {
    const exit = await runAgentDaemon(
      {
        config: cfg,
        store,
        client,
        clock,
        logger,
        ...(deps.hooks ? { hooks: deps.hooks } : {}),
        ...(deps.onReady ? { onReady: deps.onReady } : {}),
        ...(deps.onPass ? { onPass: deps.onPass } : {}),
        update: {
          ...(ctx.configPath !== undefined ? { configPath: ctx.configPath } : {}),
          env: ctx.env,
          ...(deps.updateTiming ? { timing: deps.updateTiming } : {}),
        },
        ...(deps.privileged ? { privileged: deps.privileged } : {}),
        ...(deps.mounts ? { mounts: deps.mounts } : {}),
        ...(deps.healthPrivileged ? { healthPrivileged: deps.healthPrivileged } : {}),
        ...(deps.onHealth ? { onHealth: deps.onHealth } : {}),
        ...(deps.onMetrics ? { onMetrics: deps.onMetrics } : {}),
      },
      stop.signal,
    );
    // A switch or a rollback: exit 0 all the same; the unit's Restart=always starts whatever
    // <state_dir>/current names now (docs/self-update.md#steps-and-recovery).
    logger.info(
      exit === "restart"
        ? "felhom-agent stopped to run another version"
        : "felhom-agent daemon stopped",
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof AgentStartError || err instanceof StoreError) {
      return reportFailure(ctx, "run", err.message);
    }
    throw err;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    deps.signal?.removeEventListener("abort", onDepsAbort);
    client.close();
    store.close();
  }
}
