import type { Signal, Timing } from "./hysteresis.ts";
import type { AlertKind, DiskHealth, HealthSnapshot } from "./types.ts";

/** Thresholds of the alert rules (docs/health.md#alerts); each pair is open / close. */
export interface RuleConfig {
  nvmeWearOpenPct: number;
  nvmeWearClosePct: number;
  /** Below max by this much before a temperature alert closes. */
  temperatureCloseMarginC: number;
  rootFsOpenPct: number;
  rootFsClosePct: number;
  targetFullOpenPct: number;
  targetFullClosePct: number;
  backupMaxAgeMs: number;
  storeLowOpenPct: number;
  storeLowClosePct: number;
  storeLowOpenBytes: number;
}

export const DEFAULT_RULES: RuleConfig = {
  nvmeWearOpenPct: 90,
  nvmeWearClosePct: 85,
  temperatureCloseMarginC: 5,
  rootFsOpenPct: 90,
  rootFsClosePct: 85,
  targetFullOpenPct: 90,
  targetFullClosePct: 85,
  // A daily backup that is a couple of hours late is not yet news.
  backupMaxAgeMs: 26 * 3_600_000,
  storeLowOpenPct: 5,
  storeLowClosePct: 10,
  storeLowOpenBytes: 256 * 1024 * 1024,
};

const MINUTE = 60_000;

/**
 * The time half of the hysteresis: the tunnel must report no connection for two minutes
 * before its alert opens (cloudflared reconnects on its own within that); yes/no conditions
 * must stay good for a while before their alert closes, so a loose USB cable or a SMART
 * verdict that comes and goes does not open and close alerts all day.
 */
export const DEFAULT_TIMING: Timing = {
  openAfterMs: { tunnel_down: 2 * MINUTE },
  closeAfterMs: {
    smart_failing: 60 * MINUTE,
    // Open for a day after the last increase: a count that keeps rising stays one alert.
    media_errors_rising: 24 * 60 * MINUTE,
    target_absent: 5 * MINUTE,
    tunnel_down: 1 * MINUTE,
  },
};

/** Which kinds each collector's data decides. */
const KINDS_OF: Record<keyof HealthSnapshot, AlertKind[]> = {
  disks: ["smart_failing", "nvme_wear", "media_errors_rising"],
  sensors: ["temperature"],
  node: ["root_fs_full"],
  storage: ["target_full", "target_absent"],
  backups: ["backup_overdue"],
  // An unreachable cloudflared is itself the tunnel being down: decided either way.
  tunnel: ["tunnel_down"],
  store: ["store_disk_low"],
};

/** The kinds whose inputs were available in this snapshot (see hysteresis.ts `step`). */
export function evaluatedKinds(s: HealthSnapshot): Set<AlertKind> {
  const out = new Set<AlertKind>();
  for (const [name, kinds] of Object.entries(KINDS_OF) as [keyof HealthSnapshot, AlertKind[]][]) {
    const c = s[name];
    if (c === undefined) continue;
    if (c.state === "ok" || name === "tunnel") for (const k of kinds) out.add(k);
  }
  return out;
}

const band = (value: number, open: number, close: number): Signal["level"] =>
  value >= open ? "fire" : value < close ? "clear" : "hold";

const pct = (used: number, total: number) => (total > 0 ? (used / total) * 100 : 0);
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Every rule over one snapshot. Pure. `previousDisks` is the disk data of the evaluation
 * before, for "media errors rising"; without it (the first look after a start) nothing rises.
 */
export function evaluate(
  s: HealthSnapshot,
  previousDisks: readonly DiskHealth[] | undefined,
  now: number,
  cfg: RuleConfig = DEFAULT_RULES,
): Signal[] {
  const out: Signal[] = [];
  if (s.disks?.state === "ok") {
    const before = new Map((previousDisks ?? []).map((d) => [diskId(d), d]));
    for (const d of s.disks.data) out.push(...diskSignals(d, before.get(diskId(d)), cfg));
  }
  if (s.sensors?.state === "ok") {
    for (const t of s.sensors.data) {
      const subject = `sensor:${t.chip}/${t.feature}`;
      const limit = t.max ?? t.crit;
      if (limit === undefined) continue;
      const critical = t.crit !== undefined && t.celsius >= t.crit;
      const level =
        t.celsius >= limit
          ? "fire"
          : t.celsius < limit - cfg.temperatureCloseMarginC
            ? "clear"
            : "hold";
      out.push({
        kind: "temperature",
        subject,
        severity: critical ? "critical" : "warning",
        level,
        detail: `${t.celsius} °C (max ${t.max ?? "-"}, crit ${t.crit ?? "-"})`,
      });
    }
  }
  if (s.node?.state === "ok") {
    const n = s.node.data;
    if (n.rootUsedBytes !== null && n.rootTotalBytes !== null && n.rootTotalBytes > 0) {
      const used = pct(n.rootUsedBytes, n.rootTotalBytes);
      out.push({
        kind: "root_fs_full",
        subject: "host:rootfs",
        severity: used >= 97 ? "critical" : "warning",
        level: band(used, cfg.rootFsOpenPct, cfg.rootFsClosePct),
        detail: `root filesystem ${round1(used)} % used`,
      });
    }
  }
  if (s.storage?.state === "ok") {
    for (const t of s.storage.data) {
      if (!t.managed) continue;
      const subject = `storage:${t.id}`;
      out.push({
        kind: "target_absent",
        subject,
        severity: "critical",
        level: t.present ? "clear" : "fire",
        detail: t.reason ?? "backup target absent",
      });
      if (t.avail_pct !== null) {
        const used = 100 - t.avail_pct;
        out.push({
          kind: "target_full",
          subject,
          severity: used >= 97 ? "critical" : "warning",
          level: band(used, cfg.targetFullOpenPct, cfg.targetFullClosePct),
          detail: `backup target ${round1(used)} % used`,
        });
      }
    }
  }
  if (s.backups?.state === "ok") {
    for (const b of s.backups.data) {
      // Never backed up: nothing to measure from; a new guest is not overdue.
      if (b.lastSuccessAt === null) continue;
      const age = now - b.lastSuccessAt;
      out.push({
        kind: "backup_overdue",
        subject: `guest:${b.vmid}`,
        severity: "warning",
        level: age > cfg.backupMaxAgeMs ? "fire" : "clear",
        detail: `last successful backup ${Math.floor(age / 3_600_000)} h ago`,
      });
    }
  }
  if (s.tunnel !== undefined) {
    const t = s.tunnel;
    const ready = t.state === "ok" ? t.data.readyConnections : 0;
    out.push({
      kind: "tunnel_down",
      subject: "tunnel:cloudflared",
      severity: "critical",
      level: ready > 0 ? "clear" : "fire",
      detail:
        t.state === "ok" ? `${ready} ready connections` : `cloudflared not answering: ${t.reason}`,
    });
  }
  if (s.store?.state === "ok") {
    const d = s.store.data;
    const free = 100 - pct(d.totalBytes - d.availBytes, d.totalBytes);
    const fire = free < cfg.storeLowOpenPct || d.availBytes < cfg.storeLowOpenBytes;
    const clear = free >= cfg.storeLowClosePct && d.availBytes >= 2 * cfg.storeLowOpenBytes;
    out.push({
      kind: "store_disk_low",
      subject: "store:state_dir",
      severity: "critical",
      level: fire ? "fire" : clear ? "clear" : "hold",
      detail: `${Math.floor(d.availBytes / (1024 * 1024))} MiB free (${round1(free)} %) for ${d.path}`,
    });
  }
  return out;
}

/** Serial when known (a disk keeps it across a renumbering), else the device path. */
export const diskId = (d: DiskHealth) => d.serial ?? d.devpath;

function diskSignals(d: DiskHealth, before: DiskHealth | undefined, cfg: RuleConfig): Signal[] {
  const subject = `disk:${d.devpath}`;
  const out: Signal[] = [];
  const failing = d.passed === false || d.failing;
  out.push({
    kind: "smart_failing",
    subject,
    severity: "critical",
    // Unknown SMART (USB without pass-through, a failed read) neither opens nor closes.
    level: failing ? "fire" : d.passed === null ? "hold" : "clear",
    detail: failing
      ? `SMART ${d.passed === false ? "overall verdict FAILED" : "prefail attribute at or below threshold"} (${d.model ?? d.devpath})`
      : "SMART passed",
  });
  if (d.wearUsedPct !== null) {
    out.push({
      kind: "nvme_wear",
      subject,
      severity: d.wearUsedPct >= 100 ? "critical" : "warning",
      level: band(d.wearUsedPct, cfg.nvmeWearOpenPct, cfg.nvmeWearClosePct),
      detail: `${d.wearUsedPct} % of rated endurance used`,
    });
  }
  if (d.errorCount !== null && before?.errorCount != null) {
    const rose = d.errorCount > before.errorCount;
    out.push({
      kind: "media_errors_rising",
      subject,
      severity: "warning",
      level: rose ? "fire" : "clear",
      detail: `media errors ${before.errorCount} → ${d.errorCount}`,
    });
  }
  return out;
}
