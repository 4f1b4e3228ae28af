import type { Logger } from "../log/types.ts";
import { silentLogger } from "../log/types.ts";
import type { ProxmoxClient } from "../proxmox/client-types.ts";
import type { Privileged } from "../proxmox/privileged.ts";
import type { TargetStatus } from "../reconcile/storage-presence.ts";
import type { HealthAlerts, StoredAlert } from "../store/health-alerts.ts";
import type { Clock } from "../util/clock.ts";
import { collect } from "./collect.ts";
import { collectDisks } from "./disks.ts";
import { openAlerts, step, type Timing, type Tracker, trackerFrom } from "./hysteresis.ts";
import { collectNode } from "./node.ts";
import {
  DEFAULT_RULES,
  DEFAULT_TIMING,
  evaluate,
  evaluatedKinds,
  type RuleConfig,
} from "./rules.ts";
import { collectSensors } from "./sensors.ts";
import { collectStoreDisk } from "./store-disk.ts";
import { collectTunnel } from "./tunnel.ts";
import type {
  Alert,
  AlertKind,
  BackupFreshness,
  CollectorName,
  DiskHealth,
  HealthSnapshot,
} from "./types.ts";

export interface HealthSources {
  client?: Pick<ProxmoxClient, "listDisks" | "nodeStatus">;
  privileged?: Pick<Privileged, "smart" | "sensors">;
  /** The backup targets against Proxmox (reconcile/storage-presence.ts `checkTargets`). */
  storageTargets?: (signal: AbortSignal) => Promise<TargetStatus[]>;
  /**
   * The last successful backup per guest, from the backup history. The hook the backup
   * history fills; absent = no backup collector (docs/health.md#collectors).
   */
  backupFreshness?: (signal: AbortSignal) => Promise<BackupFreshness[]>;
  /** cloudflared's `/ready` URL; absent = the tunnel is not watched. */
  tunnelReadyUrl?: string;
  /** The state directory, whose filesystem the store lives on. */
  stateDir?: string;
  fetch?: typeof fetch;
}

export interface HealthMonitorOptions extends HealthSources {
  clock: Clock;
  /** Where alerts and collections persist (the store's healthAlerts); absent in pure tests. */
  store?: Pick<HealthAlerts, "list" | "apply" | "putCollection">;
  intervalsMs?: Partial<Record<CollectorName, number>>;
  timeoutsMs?: Partial<Record<CollectorName, number>>;
  rules?: RuleConfig;
  timing?: Timing;
  logger?: Logger;
}

const MINUTE = 60_000;

export const DEFAULT_INTERVALS_MS: Record<CollectorName, number> = {
  disks: 30 * MINUTE,
  sensors: MINUTE,
  node: MINUTE,
  storage: MINUTE,
  backups: 5 * MINUTE,
  tunnel: 30_000,
  store: 5 * MINUTE,
};

// smartctl may take a while per disk (a spun-down USB disk wakes up first).
const DEFAULT_TIMEOUTS_MS: Record<CollectorName, number> = {
  disks: 5 * MINUTE,
  sensors: 20_000,
  node: 15_000,
  storage: 20_000,
  backups: 20_000,
  tunnel: 5_000,
  store: 5_000,
};

export interface TickResult {
  ran: CollectorName[];
  opened: Alert[];
  closed: Alert[];
}

/**
 * Runs the collectors on their schedules, each alone (docs/health.md#collectors), evaluates
 * the alert rules over everything last collected and records what opened or closed
 * (docs/health.md#alerts). The daemon calls `tick` on a timer; tests and the demo call it
 * directly with a manual clock.
 */
export class HealthMonitor {
  private readonly o: HealthMonitorOptions;
  private readonly log: Logger;
  private snap: HealthSnapshot = {};
  private tracker: Tracker;
  private lastDisks: DiskHealth[] | undefined;
  private running: Promise<TickResult> | undefined;

  constructor(o: HealthMonitorOptions) {
    this.o = o;
    this.log = o.logger ?? silentLogger;
    this.tracker = trackerFrom((o.store?.list() ?? []).flatMap(toAlert));
  }

  /** The collectors this monitor has sources for. */
  collectors(): CollectorName[] {
    const o = this.o;
    const on: [CollectorName, boolean][] = [
      ["disks", o.client !== undefined && o.privileged !== undefined],
      ["sensors", o.privileged !== undefined],
      ["node", o.client !== undefined],
      ["storage", o.storageTargets !== undefined],
      ["backups", o.backupFreshness !== undefined],
      ["tunnel", o.tunnelReadyUrl !== undefined],
      ["store", o.stateDir !== undefined],
    ];
    return on.filter(([, yes]) => yes).map(([n]) => n);
  }

  snapshot(): HealthSnapshot {
    return this.snap;
  }

  alerts(): Alert[] {
    return openAlerts(this.tracker);
  }

  /** Runs the collectors that are due (all with `force`), then the rules. One tick at a time. */
  tick(opts: { force?: boolean | readonly CollectorName[] } = {}): Promise<TickResult> {
    if (this.running) return this.running;
    this.running = this.runTick(opts.force ?? false).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private due(name: CollectorName, now: number): boolean {
    const last = this.snap[name];
    const every = this.o.intervalsMs?.[name] ?? DEFAULT_INTERVALS_MS[name];
    return last === undefined || now - last.at >= every;
  }

  private async runTick(force: boolean | readonly CollectorName[]): Promise<TickResult> {
    const now = this.o.clock.now();
    const ran = this.collectors().filter((n) =>
      force === true ? true : force === false ? this.due(n, now) : force.includes(n),
    );
    await Promise.all(ran.map((n) => this.runOne(n)));
    const signals = evaluate(
      this.snap,
      this.lastDisks,
      this.o.clock.now(),
      this.o.rules ?? DEFAULT_RULES,
    );
    const kinds: Set<AlertKind> = evaluatedKinds(this.snap);
    const r = step(
      this.tracker,
      signals,
      kinds,
      this.o.clock.now(),
      this.o.timing ?? DEFAULT_TIMING,
    );
    // Record first: an alert is open once the store (and its audit row) says so.
    try {
      this.o.store?.apply(r.opened, r.closed);
      this.tracker = r.tracker;
    } catch (err) {
      this.log.error("health alerts could not be recorded; evaluated again next tick", {
        error: (err as Error).message,
      });
      return { ran, opened: [], closed: [] };
    }
    if (this.snap.disks?.state === "ok") this.lastDisks = this.snap.disks.data;
    for (const a of r.opened) {
      this.log.warn("health alert opened", { kind: a.kind, subject: a.subject, detail: a.detail });
    }
    for (const a of r.closed) {
      this.log.info("health alert closed", { kind: a.kind, subject: a.subject });
    }
    return { ran, opened: r.opened, closed: r.closed };
  }

  private async runOne(name: CollectorName): Promise<void> {
    const o = this.o;
    const timeout = o.timeoutsMs?.[name] ?? DEFAULT_TIMEOUTS_MS[name];
    const now = () => o.clock.now();
    let result: HealthSnapshot[CollectorName];
    switch (name) {
      case "disks": {
        const s = {
          client: o.client as NonNullable<typeof o.client>,
          privileged: o.privileged as NonNullable<typeof o.privileged>,
        };
        result = await collect((sig) => collectDisks(s, sig), timeout, now);
        break;
      }
      case "sensors":
        result = await collect(
          () => collectSensors(o.privileged as NonNullable<typeof o.privileged>),
          timeout,
          now,
        );
        break;
      case "node":
        result = await collect(
          (sig) => collectNode(o.client as NonNullable<typeof o.client>, sig),
          timeout,
          now,
        );
        break;
      case "storage":
        result = await collect(
          (sig) => (o.storageTargets as NonNullable<typeof o.storageTargets>)(sig),
          timeout,
          now,
        );
        break;
      case "backups":
        result = await collect(
          (sig) => (o.backupFreshness as NonNullable<typeof o.backupFreshness>)(sig),
          timeout,
          now,
        );
        break;
      case "tunnel":
        result = await collect(
          (sig) => collectTunnel(o.tunnelReadyUrl as string, sig, o.fetch),
          timeout,
          now,
        );
        break;
      case "store":
        result = await collect(() => collectStoreDisk(o.stateDir as string), timeout, now);
        break;
    }
    const before = this.snap[name]?.state;
    this.snap = { ...this.snap, [name]: result };
    if (result.state === "unavailable" && before !== "unavailable") {
      this.log.warn("health collector unavailable; the others carry on", {
        collector: name,
        reason: result.reason,
      });
    }
    try {
      o.store?.putCollection(name, result.at, result);
    } catch (err) {
      this.log.warn("health collection not cached for status", {
        collector: name,
        error: (err as Error).message,
      });
    }
  }
}

function toAlert(a: StoredAlert): Alert[] {
  return [{ ...a, kind: a.kind as AlertKind }];
}
