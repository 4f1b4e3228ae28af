import { parseArgs } from "node:util";
import { ConfigError } from "../config/errors.ts";
import { loadSections } from "../config/load.ts";
import { secretsOfSections } from "../config/redact.ts";
import { agentSections } from "../config/sections.ts";
import { runReconcileDaemon } from "../daemon/reconcile-daemon.ts";
import { createLogger } from "../log/logger.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import {
  cachedDesiredProvider,
  type DesiredProvider,
  FileDesiredProvider,
} from "../reconcile/desired-provider.ts";
import type { EngineHooks } from "../reconcile/engine.ts";
import { benignOnlyGate } from "../reconcile/gate-seam.ts";
import { StoreError } from "../store/errors.ts";
import { defaultStorePath, openStore } from "../store/open.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { type CliContext, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "./context.ts";
import { proxmoxClientFromConfig } from "./proxmox-from-config.ts";

const HELP = `Usage: felhom-agent [--config PATH] run

Runs the agent daemon: opens the state database, settles every operation a previous run left
in flight (from Proxmox's real task status; nothing is re-sent blindly), then converges the
guests named in desired state, one journaled operation per guest at a time.

Desired state comes from desired_file (see docs/desired-state.md) or from the hub. Until one
has been received, nothing is changed. SIGTERM/SIGINT: in-flight tasks are journaled and
resumed at the next start; exit 0.

Exit codes: 0 stopped by a signal, 1 start-up failure, 2 usage or configuration error.
`;

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
}

export async function runDaemon(
  argv: string[],
  ctx: CliContext,
  deps: RunDeps = {},
): Promise<number> {
  let help = false;
  try {
    const { values } = parseArgs({
      args: argv.filter((a, i) => !(i === 0 && a === "run")),
      options: { help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    help = values.help === true;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (help) {
    ctx.stdout(HELP);
    return EXIT_OK;
  }
  let cfg: Awaited<ReturnType<typeof loadSections<typeof RUN_SECTIONS>>>;
  try {
    cfg = await loadSections(RUN_SECTIONS, {
      ...(ctx.configPath !== undefined ? { path: ctx.configPath, pathExplicit: true } : {}),
      env: ctx.env,
      onWarning: (w) => ctx.stderr(`warning: ${w.key}: ${w.message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.stderr(`felhom-agent: configuration error\n${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const clock = deps.clock ?? systemClock;
  const logger = createLogger({
    level: cfg.log.level,
    sink: (line) => ctx.stderr(`${line}\n`),
    secrets: () => secretsOfSections(RUN_SECTIONS, cfg),
    clock,
  });
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore({ path: defaultStorePath(cfg.state_dir), clock, logger });
  } catch (err) {
    if (err instanceof StoreError) {
      ctx.stderr(`felhom-agent: ${err.message}\n`);
      return EXIT_FAILURE;
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
  deps.signal?.addEventListener("abort", () => stop.abort(deps.signal?.reason), { once: true });
  let desired: DesiredProvider;
  let watching: Promise<void> = Promise.resolve();
  if (cfg.desired_file !== undefined) {
    const file = new FileDesiredProvider({
      path: cfg.desired_file,
      cache: store.desired,
      logger,
      clock,
    });
    watching = file.watch(stop.signal);
    desired = file;
  } else {
    desired = cachedDesiredProvider(store.desired);
  }
  logger.info("felhom-agent daemon starting", {
    store: store.info.path,
    store_created: store.info.created,
    desired_source: cfg.desired_file ?? "hub (cached)",
    interval_s: cfg.reconcile.interval_s,
    concurrency: cfg.reconcile.concurrency,
  });
  try {
    await runReconcileDaemon(
      {
        store,
        client,
        gate: benignOnlyGate(store),
        desired,
        config: cfg.reconcile,
        clock,
        logger,
        ...(deps.hooks ? { hooks: deps.hooks } : {}),
      },
      stop.signal,
    );
    stop.abort();
    await watching;
    logger.info("felhom-agent daemon stopped");
    return EXIT_OK;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    client.close();
    store.close();
  }
}
