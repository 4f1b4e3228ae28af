import { createEd25519 } from "../authz/ed25519.ts";
import { ReversibilityGate } from "../gate/gate.ts";
import { renderMetrics } from "../health/metrics.ts";
import type { HealthMonitor, HealthSources } from "../health/monitor.ts";
import { hubIdentityPath } from "../hub/config-section.ts";
import { createHubLink } from "../hub/create-link.ts";
import { type HubIdentity, identityExists, readIdentity } from "../hub/identity.ts";
import type { HubLink } from "../hub/link.ts";
import {
  collectStatusReport,
  type PendingSignatureInfo,
  type ReconcileHealth,
} from "../hub/report-collector.ts";
import { emptyMovedSigners, importEnrollmentSigners } from "../hub/signer-import.ts";
import { effectiveHostId } from "../hub/trust.ts";
import { RequestCounts } from "../localapi/request-counts.ts";
import { type StartedLocalApi, startLocalApi } from "../localapi/start.ts";
import type { Logger } from "../log/types.ts";
import type { OperationRequest, OperationStatus, OperationSubmitter } from "../ops/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { createMountProbe, type MountProbe } from "../proxmox/mount-probe.ts";
import type { Privileged } from "../proxmox/privileged.ts";
import { backupFreshness } from "../reconcile/backup-freshness.ts";
import {
  cachedDesiredProvider,
  type DesiredProvider,
  FileDesiredProvider,
} from "../reconcile/desired-provider.ts";
import type { Engine, EngineHooks } from "../reconcile/engine.ts";
import type { Plan } from "../reconcile/planner.ts";
import type { PassReport } from "../reconcile/reconciler.ts";
import { checkTargets, heldStorageAdds } from "../reconcile/storage-presence.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";
import { AGENT_VERSION } from "../version.ts";
import type { AgentConfig } from "./agent-config.ts";
import { runBackupLoop } from "./backup-loop.ts";
import { createBootstrapRedeemer } from "./bootstrap-redeemer.ts";
import { BootstrapSecrets } from "./bootstrap-secrets.ts";
import { DesiredLookups } from "./desired-lookups.ts";
import { historyBackupFreshness } from "./health-backup-freshness.ts";
import { buildHealthMonitor, runHealthLoop } from "./health-loop.ts";
import { HealthSummary } from "./health-summary.ts";
import { buildHostOps } from "./host-ops.ts";
import { ackRecordingPorts } from "./hub-ack-recorder.ts";
import { hubAcksPath } from "./hub-acks.ts";
import { metricsInput, type PassCounters } from "./metrics-input.ts";
import { type MetricsServer, startMetricsServer } from "./metrics-server.ts";
import { runOperatorRequests } from "./operator-requests.ts";
import {
  continueAfterRestore,
  journalIdOf,
  type ProvisionDeps,
  reportedProvisioning,
  restoredWithoutCode,
  resumeProvisioning,
} from "./provisioning.ts";
import { runReconcileDaemon } from "./reconcile-daemon.ts";
import { reportedSigners } from "./reported-signers.ts";
import { signersInForce } from "./signers-in-force.ts";
import { StoreUpkeep } from "./store-upkeep.ts";
import { DEFAULT_UPDATE_TIMING, UpdateDriver, type UpdateTiming } from "./update-driver.ts";

/** The daemon could not start one of its parts; the message says which and why. */
export class AgentStartError extends Error {
  override readonly name = "AgentStartError";
}

/** What is running once recovery is done (the demo and tests drive it through these). */
export interface AgentReady {
  engine: Engine;
  gate: ReversibilityGate;
  localApi?: StartedLocalApi;
  hub?: HubLink;
  health(): ReconcileHealth;
}

export interface AgentDaemonOptions {
  config: AgentConfig;
  store: Store;
  client: ProxmoxClient;
  clock: Clock;
  logger: Logger;
  hooks?: EngineHooks;
  random?: () => number;
  onReady?: (ready: AgentReady) => void;
  onPlan?: (plan: Plan) => void;
  onPass?: (report: PassReport) => void;
  /** Self-update: the config file for the smoke test, the environment, test timings. */
  update?: {
    configPath?: string;
    env?: Record<string, string | undefined>;
    timing?: Partial<UpdateTiming>;
  };
  /** The root side for USB mounts (the demo passes the simulator's); default the real one. */
  privileged?: Pick<Privileged, "mountUSBByUUID">;
  /** Where USB disks are seen attached and mounted; default the kernel's tables. */
  mounts?: MountProbe;
  /** Host health: the root side for SMART and sensors (the demo passes the simulator's). */
  healthPrivileged?: Pick<Privileged, "smart" | "sensors">;
  /** The backup history's freshness per guest (docs/health.md#collectors); absent = none. */
  backupFreshness?: HealthSources["backupFreshness"];
  /** Called with the health monitor once built, so tests and the demo can tick it. */
  onHealth?: (monitor: HealthMonitor) => void;
  /** Called with the `/metrics` URL once the listener runs (`metrics.listen` set). */
  onMetrics?: (url: string) => void;
}

/** Why the daemon returned: stopped by its signal, or to be restarted on another version. */
export type AgentExit = "stopped" | "restart";

/**
 * Hands requests to the engine once it exists and is not stopping. Before and after, a
 * request is refused with an error rather than answered `failed`: a hub job then stays open
 * and is taken again on the next poll instead of being reported failed by a restart.
 */
class LateSubmitter implements OperationSubmitter {
  engine: Engine | undefined;
  /**
   * Runs once a `guest.provision` (a hub job's, a held one's release) has restored its
   * guest: the bootstrap code, `env` and start follow (provisioning.ts).
   */
  onProvisioned?: (vmid: number, params: Record<string, unknown>, journalId: number | null) => void;

  async submit(req: OperationRequest): Promise<OperationStatus> {
    if (this.engine === undefined || this.engine.stopped) {
      throw new Error("the agent is starting or stopping; the request was not taken");
    }
    if (req.op !== "guest.provision" || req.vmid === undefined) return this.engine.submit(req);
    const vmid = req.vmid;
    const { status, settled } = await this.engine.enqueue(req);
    // A settle that throws is the engine stopping; the pass-time scan carries it on later.
    settled.then(
      (s) => {
        if (s.state === "done") this.onProvisioned?.(vmid, req.params, journalIdOf(s));
      },
      () => undefined,
    );
    return status;
  }

  status(id: string): OperationStatus | undefined {
    return this.engine?.status(id);
  }
}

async function enrolledIdentity(
  cfg: AgentConfig,
  logger: Logger,
): Promise<HubIdentity | undefined> {
  const path = hubIdentityPath(cfg.hub, cfg.state_dir);
  try {
    if (!(await identityExists(path))) {
      logger.info("not enrolled with a hub; desired state comes from desired_file or the cache", {
        identity_file: path,
      });
      return undefined;
    }
    return await readIdentity(path);
  } catch (err) {
    throw new AgentStartError((err as Error).message);
  }
}

/**
 * The whole daemon (`felhom-agent run`): recovery first, then the reconcile loop, the local
 * API (when `local_api.enabled`) and the hub link (when enrolled), all on the one engine that
 * fronts every mutation with the gate and the journal. Resolves when `signal` aborts and every
 * part has stopped; throws AgentStartError when a part cannot start.
 */
export async function runAgentDaemon(
  o: AgentDaemonOptions,
  signal: AbortSignal,
): Promise<AgentExit> {
  const { config: cfg, store, client, clock, logger } = o;
  const identity = await enrolledIdentity(cfg, logger);
  // The enrolled signers live in the store; the identity file's list is read once per
  // enrollment (src/store/README.md#enrolled-signers).
  importEnrollmentSigners(store, identity, logger);
  await emptyMovedSigners(hubIdentityPath(cfg.hub, cfg.state_dir), identity, store, logger);
  const signers = signersInForce(cfg.signers, store.enrolledSigners, logger);
  const gate = new ReversibilityGate({
    store,
    hostId: effectiveHostId(cfg.host_id, identity, logger),
    signers,
    configuredSigners: cfg.signers,
    clock,
    ed25519: createEd25519(),
    skewSeconds: cfg.gate.skew_s,
    maxTtlSeconds: cfg.gate.max_ttl_s,
    maxGrowGiB: cfg.gate.max_grow_gib,
    provisionBridges: cfg.gate.provision_bridges,
    // Signatures bind to the guest's identity, so one made for an earlier guest at this vmid
    // is a binding_mismatch.
    guestUid: (vmid) => store.guestIdentities.current(vmid)?.uid,
    logger: logger.child({ component: "gate" }),
  });
  const lookups = new DesiredLookups(store.desired, logger);
  const mounts = o.mounts ?? createMountProbe();
  const hostOps = buildHostOps({
    client,
    identity,
    lookups,
    privilegedConfig: cfg.privileged,
    ...(o.privileged ? { privileged: o.privileged } : {}),
    tunnelTokenPath: cfg.health.tunnel.token_file,
    logger,
  });
  const targetsNow = (sig: AbortSignal) =>
    checkTargets({
      client,
      mounts,
      targets: lookups.state()?.storageTargets,
      presence: store.storagePresence,
      held: heldStorageAdds(store.pending),
      signal: sig,
    });
  const monitor = cfg.health.enabled
    ? buildHealthMonitor({
        config: cfg.health,
        privilegedConfig: cfg.privileged,
        client,
        store,
        stateDir: cfg.state_dir,
        clock,
        logger,
        storageTargets: targetsNow,
        backupFreshness:
          o.backupFreshness ??
          (async () =>
            historyBackupFreshness(
              store,
              () => [...(lookups.state()?.guests.keys() ?? [])],
              () => clock.now(),
            )),
        ...(o.healthPrivileged ? { privileged: o.healthPrivileged } : {}),
      })
    : undefined;
  if (monitor) o.onHealth?.(monitor);
  const upkeep = new StoreUpkeep({ store, config: cfg.state, clock, logger });
  const health: ReconcileHealth = { failures: 0 };
  const passes: PassCounters = { passes: 0, errors: 0 };

  const submitter = new LateSubmitter();
  const life = new AbortController();
  const onAbort = () => life.abort(signal.reason);
  if (signal.aborted) life.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });

  let hub: Awaited<ReturnType<typeof createHubLink>> | undefined;
  let desired: DesiredProvider;
  let watching: Promise<void> = Promise.resolve();
  if (identity !== undefined) {
    hub = await createHubLink({
      identity,
      config: cfg.hub,
      stateDir: cfg.state_dir,
      store: {
        desired: store.desired,
        hubJobs: store.hubJobs,
        ...ackRecordingPorts(
          store,
          hubAcksPath(hubIdentityPath(cfg.hub, cfg.state_dir)),
          clock,
          logger.child({ component: "hub" }),
        ),
      },
      submitter,
      collectReport: () =>
        collectStatusReport({
          proxmox: client,
          agentVersion: AGENT_VERSION,
          reconcileHealth: () => ({ ...health }),
          pendingSignatures: () => pendingSignatures(store),
          guestOverrides: () => store.guestOverrides.inForce(),
          provisioning: () => reportedProvisioning(store.bootstrapCodes.unfinished()),
          signers: () => reportedSigners(signers(), cfg.signers, store.enrolledSigners.list()),
          storageTargets: targetsNow,
          backups: (vmids) => {
            const inForce = store.backupPolicies.inForce();
            if (inForce === undefined) return undefined;
            return backupFreshness(
              inForce.policy,
              vmids,
              store.backupHistory.summaries(),
              clock.now(),
            );
          },
          ...(monitor ? { alerts: () => monitor.alerts() } : {}),
          now: () => clock.now(),
        }),
      clock,
      logger,
    });
    desired = hub.link.provider;
    if (cfg.desired_file !== undefined) {
      logger.warn(
        "this host is enrolled: desired state comes from the hub; desired_file is not read",
        {
          desired_file: cfg.desired_file,
        },
      );
    }
  } else if (cfg.desired_file !== undefined) {
    const file = new FileDesiredProvider({
      path: cfg.desired_file,
      cache: store.desired,
      logger,
      clock,
    });
    watching = file.watch(life.signal);
    desired = file;
  } else {
    desired = cachedDesiredProvider(store.desired);
  }

  // Self-update first: a new version that already had its one chance is rolled back before
  // this process changes anything (docs/self-update.md#health-gate-and-rollback).
  let exit: AgentExit = "stopped";
  const fetchArtifact = hub?.fetchArtifact;
  const updates = new UpdateDriver({
    store,
    stateDir: cfg.state_dir,
    ...(o.update?.configPath !== undefined ? { configPath: o.update.configPath } : {}),
    env: o.update?.env ?? process.env,
    ...(fetchArtifact ? { fetchArtifact } : {}),
    timing: { ...DEFAULT_UPDATE_TIMING, ...o.update?.timing },
    clock,
    logger: logger.child({ component: "update" }),
    restart: (why) => {
      logger.info("stopping for the supervisor to start the agent again", { reason: why });
      exit = "restart";
      life.abort(new Error(why));
    },
  });
  if (updates.start().kind === "rolled_back") {
    signal.removeEventListener("abort", onAbort);
    hub?.close();
    await watching.catch(() => {});
    return "restart";
  }
  let recovered = false;
  let passed = false;
  let updating: Promise<void> = Promise.resolve();
  const hubLink = hub?.link;
  const summary = new HealthSummary({
    clock,
    logger,
    intervalMin: cfg.log.summary_interval_min,
    pendingSignatures: () => store.pending.list({ status: "pending", limit: 1000 }).length,
    version: AGENT_VERSION,
    ...(hubLink === undefined ? {} : { hub: () => hubLink.status() }),
  });

  let startFailure: Error | undefined;
  let localApi: StartedLocalApi | undefined;
  let linkRun: Promise<void> = Promise.resolve();
  let requestsRun: Promise<void> = Promise.resolve();
  let backupsRun: Promise<void> = Promise.resolve();
  let healthRun: Promise<void> = Promise.resolve();
  let metricsServer: MetricsServer | undefined;
  let started: Promise<void> = Promise.resolve();
  // The clear bootstrap codes between issue and `PUT …/config`, for the engine's executor.
  const bootstrapSecrets = new BootstrapSecrets();
  // Local-API answers by route and status, for `/metrics` (docs/health.md#metrics).
  const requestCounts = new RequestCounts();
  const continuing = new Set<number>();
  let continueRestored: (() => void) | undefined;
  const hostId = effectiveHostId(cfg.host_id, identity, logger);
  const startServices = async (engine: Engine): Promise<void> => {
    submitter.engine = engine;
    const provisioning: ProvisionDeps = {
      engine,
      client,
      store,
      secrets: bootstrapSecrets,
      logger: logger.child({ component: "provisioning" }),
    };
    const resume = (vmid: number, after?: { params: unknown; journalId: number | null }) => {
      // One continuation per guest at a time: the hook, the start-up scan and each pass's
      // scan may all find the same one.
      if (continuing.has(vmid)) return;
      continuing.add(vmid);
      (after
        ? continueAfterRestore(provisioning, vmid, after.params, after.journalId)
        : resumeProvisioning(provisioning, vmid)
      )
        .finally(() => continuing.delete(vmid))
        .then(
          (out) => {
            if (out.step !== "started") {
              logger.warn("provisioning stopped half way; resume it", {
                vmid,
                step: out.step,
                reason: out.failed?.reason,
              });
            }
          },
          (err: Error) =>
            logger.warn("provisioning stopped half way; resume it", { vmid, error: err.message }),
        );
    };
    submitter.onProvisioned = (vmid, params, journalId) => resume(vmid, { params, journalId });
    // A code that never reached env died with the last process's memory, one in env waits
    // for a start, a traded one still has env to remove: carry those on now. A started guest
    // keeps its code (the hash is stored, the guest's env holds it), so it is left waiting.
    for (const r of store.bootstrapCodes.unfinished()) {
      if (r.step === "issued" || r.step === "env_set" || r.step === "redeemed") resume(r.vmid);
    }
    // A restore that ended (or was settled by recovery, or was a held one released) with no
    // code made after it: now, and before every pass.
    continueRestored = () => {
      for (const r of restoredWithoutCode(store, clock.now())) resume(r.vmid, r);
    };
    continueRestored();
    await lookups.refreshDefaultBackupStorage(client, life.signal);
    if (life.signal.aborted) return;
    if (cfg.local_api.enabled) {
      try {
        localApi = await startLocalApi({
          config: cfg.local_api,
          stateDir: cfg.state_dir,
          deps: {
            tokens: store.guestTokens,
            submitter,
            proxmox: client,
            ...(cfg.metrics.listen !== undefined ? { requestCounts } : {}),
            quotas: lookups,
            backups: lookups,
            audit: store.audit,
            clock,
            logger: logger.child({ component: "localapi" }),
            version: AGENT_VERSION,
            bootstrap: createBootstrapRedeemer({
              store,
              client,
              engine,
              grantInfo: () => ({
                hostId: hostId ?? null,
                hubUrl: cfg.hub.url ?? null,
                pins: {
                  leafSha256: localApi?.certificate.leafSha256 ?? "",
                  spkiSha256: localApi?.certificate.spkiSha256 ?? "",
                },
              }),
              logger,
            }),
          },
          logger,
        });
      } catch (err) {
        startFailure = new AgentStartError(`local API: ${(err as Error).message}`);
        logger.error("the local API could not start; stopping", {
          error: (err as Error).message,
        });
        life.abort(startFailure);
        return;
      }
    }
    if (hub !== undefined) linkRun = hub.link.run(life.signal);
    // Approvals and declines queued by `felhom-agent pending`, enrolled or not
    // (docs/architecture.md#held-operations-on-the-host).
    requestsRun = runOperatorRequests(
      { store, gate, submitter, clock, logger: logger.child({ component: "pending" }) },
      life.signal,
    );
    // Scheduled backups (docs/reconcile.md#backup-schedule), after recovery settled the journal.
    backupsRun = runBackupLoop(
      {
        config: cfg.backup,
        store,
        engine,
        client,
        desired: () => lookups.state(),
        clock,
        logger: logger.child({ component: "backup" }),
        seed: store.info.storeId,
        backupStorageFor: (vmid) => lookups.backupStorageFor(vmid),
      },
      life.signal,
    );
    const listen = cfg.metrics.listen;
    if (listen !== undefined) {
      try {
        metricsServer = startMetricsServer(
          listen,
          () =>
            renderMetrics(
              metricsInput({
                version: AGENT_VERSION,
                store,
                monitor,
                passes,
                ...(hubLink ? { hub: () => hubLink.status() } : {}),
                ...(localApi ? { localApiRequests: () => requestCounts.list() } : {}),
              }),
            ),
          logger.child({ component: "metrics" }),
        );
        o.onMetrics?.(metricsServer.url);
      } catch (err) {
        startFailure = new AgentStartError(`metrics listener: ${(err as Error).message}`);
        logger.error("the metrics listener could not start; stopping", {
          error: (err as Error).message,
        });
        life.abort(startFailure);
        return;
      }
    }
    if (monitor) {
      healthRun = runHealthLoop(monitor, clock, logger.child({ component: "health" }), life.signal);
    }
    recovered = true;
    const link = hub?.link;
    updating = updates.run(life.signal, () =>
      link !== undefined ? link.status().lastSuccessAt !== undefined : passed,
    );
    o.onReady?.({
      engine,
      gate,
      ...(localApi ? { localApi } : {}),
      ...(hub ? { hub: hub.link } : {}),
      health: () => ({ ...health }),
    });
  };

  try {
    await runReconcileDaemon(
      {
        store,
        client,
        gate,
        desired,
        config: cfg.reconcile,
        clock,
        logger,
        // The client learns the node's clock from every answer's Date header
        // (docs/proxmox-behaviour.md#date-header-clock-offset), so a lost answer's task
        // search rarely needs a read of its own.
        clockOffset: client,
        ...(o.random ? { random: o.random } : {}),
        ...(o.hooks ? { hooks: o.hooks } : {}),
        ...(o.onPlan ? { onPlan: o.onPlan } : {}),
        desiredGuest: (vmid) => lookups.specFor(vmid),
        hostOps,
        secrets: bootstrapSecrets,
        // Enrolled, the report cycle records presence; otherwise each pass does.
        storage: {
          client,
          mounts,
          ...(identity === undefined ? { presence: store.storagePresence } : {}),
        },
        beforePass: () => {
          try {
            upkeep.beforePass();
          } catch (err) {
            logger.error("the state database changed under the daemon; it stops mutating", {
              error: (err as Error).message,
            });
            throw err;
          }
          try {
            continueRestored?.();
          } catch (err) {
            logger.warn("could not look for provisionings to continue", {
              error: (err as Error).message,
            });
          }
        },
        onReady: (engine) => {
          started = startServices(engine);
        },
        onPass: (report) => {
          health.lastPassAt = clock.now();
          passes.passes++;
          passes.lastPassAt = health.lastPassAt;
          if (report.failed > 0) passes.errors++;
          health.lastPassOk = report.failed === 0;
          health.failures = report.failed === 0 ? 0 : health.failures + 1;
          const failed = report.results.find((r) => r.state !== "done");
          if (failed?.reason !== undefined) health.lastError = failed.reason;
          gate.expirePending(cfg.gate.pending_ttl_s * 1000);
          // An envelope past exp + skew is refused as expired before its nonce is looked up
          // (src/authz/verify.ts), so its nonce need not be kept any longer.
          store.nonces.prune(cfg.gate.skew_s * 1000);
          upkeep.afterPass();
          passed = recovered;
          void lookups.refreshDefaultBackupStorage(client, life.signal);
          summary.pass(report);
          o.onPass?.(report);
        },
        onPassError: (err) => {
          upkeep.afterPass();
          health.lastPassAt = clock.now();
          passes.passes++;
          passes.errors++;
          passes.lastPassAt = health.lastPassAt;
          health.lastPassOk = false;
          health.failures++;
          health.lastError = (err as Error)?.message ?? String(err);
          summary.passError();
        },
      },
      life.signal,
    );
  } finally {
    life.abort();
    signal.removeEventListener("abort", onAbort);
    updates.stop();
    await started.catch(() => {});
    await updating.catch(() => {});
    await linkRun.catch(() => {});
    await requestsRun.catch(() => {});
    await backupsRun.catch(() => {});
    await healthRun.catch(() => {});
    await metricsServer?.stop().catch(() => {});
    await localApi?.server.stop().catch(() => {});
    hub?.close();
    await watching.catch(() => {});
  }
  if (startFailure) throw startFailure;
  return exit;
}

function pendingSignatures(store: Store): PendingSignatureInfo[] {
  return store.pending.list({ status: "pending", limit: 100 }).map((p) => ({
    id: p.id,
    op: p.op,
    ...(p.vmid !== null ? { vmid: p.vmid } : {}),
    ...(p.jobId !== null ? { jobId: p.jobId } : {}),
    since: p.createdAt,
  }));
}
