import type { PrivilegedMode } from "../config/base-sections.ts";
import type { HealthConfig } from "../health/config-section.ts";
import { HealthMonitor, type HealthSources } from "../health/monitor.ts";
import type { Logger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import { createPrivileged, type Privileged, privilegedPathsFor } from "../proxmox/privileged.ts";
import { createSpawnRunner } from "../proxmox/runner.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../util/clock.ts";

export interface HealthLoopInput {
  config: HealthConfig;
  privilegedConfig: { mode: PrivilegedMode; sudo_path: string };
  client: ProxmoxClient;
  store: Store;
  stateDir: string;
  clock: Clock;
  logger: Logger;
  storageTargets: HealthSources["storageTargets"];
  /** The backup history's freshness per guest, when there is one (docs/health.md#collectors). */
  backupFreshness?: HealthSources["backupFreshness"];
  /** The demo and tests pass the simulator's root side; default the real one. */
  privileged?: Pick<Privileged, "smart" | "sensors">;
  fetch?: typeof fetch;
}

const MINUTE = 60_000;

/** The daemon's health monitor, built from the configuration (docs/health.md#configuration). */
export function buildHealthMonitor(i: HealthLoopInput): HealthMonitor {
  const privileged =
    i.privileged ??
    createPrivileged({
      runner: createSpawnRunner({
        mode: i.privilegedConfig.mode,
        sudoPath: i.privilegedConfig.sudo_path,
        logger: i.logger.child({ component: "privileged" }),
      }),
      paths: privilegedPathsFor(i.privilegedConfig.mode),
    });
  return new HealthMonitor({
    clock: i.clock,
    client: i.client,
    privileged,
    ...(i.storageTargets ? { storageTargets: i.storageTargets } : {}),
    ...(i.backupFreshness ? { backupFreshness: i.backupFreshness } : {}),
    ...(i.config.tunnel.enabled
      ? { tunnelReadyUrl: `http://127.0.0.1:${i.config.tunnel.metrics_port}/ready` }
      : {}),
    stateDir: i.stateDir,
    store: i.store.healthAlerts,
    intervalsMs: {
      disks: i.config.disks_interval_s * 1000,
      sensors: i.config.sensors_interval_s * 1000,
      node: i.config.node_interval_s * 1000,
    },
    ...(i.fetch ? { fetch: i.fetch } : {}),
    logger: i.logger.child({ component: "health" }),
  });
}

/**
 * Ticks the monitor until the signal ends: every 15 s, so the shortest schedule (the tunnel's
 * 30 s) is kept; each tick only runs the collectors that are due.
 */
export async function runHealthLoop(
  monitor: HealthMonitor,
  clock: Clock,
  logger: Logger,
  signal: AbortSignal,
  everyMs = MINUTE / 4,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await monitor.tick();
    } catch (err) {
      logger.error("health tick failed", { error: (err as Error).message });
    }
    await clock.sleep(everyMs, signal).catch(() => {});
  }
}
