import type { Alert, CollectorName, HealthSnapshot } from "./types.ts";

/**
 * `GET /metrics` in the Prometheus text exposition format, version 0.0.4
 * (docs/health.md#metrics): one `# HELP` and one `# TYPE` line per family, then its samples;
 * names `felhom_…` in base units (seconds, bytes, celsius); counters end in `_total`. Pure:
 * the daemon gathers the numbers, this only writes them.
 */
export interface MetricsInput {
  version: string;
  /** Collectors this agent runs; each gets `felhom_collector_up`. */
  collectors: readonly CollectorName[];
  snapshot: HealthSnapshot;
  alerts: readonly Alert[];
  reconcile: { passes: number; errors: number; lastPassAt?: number };
  /** Journal rows kept, by operation and phase. */
  operations: readonly { op: string; phase: string; count: number }[];
  /** Gate decisions in the kept audit log, by outcome. */
  gateDecisions: readonly { outcome: string; count: number }[];
  heldOperations: number;
  hub?: {
    enrolled: boolean;
    consecutiveFailures: number;
    lastSuccessAt?: number;
    outboxDepth: number;
  };
  /** Local-API requests by route and status, when the local API counts them. */
  localApiRequests?: readonly { route: string; status: number; count: number }[];
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

const escapeLabel = (v: string) =>
  v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

class Writer {
  private readonly parts: string[] = [];

  family(name: string, type: "gauge" | "counter", help: string, samples: [Labels, number][]): void {
    this.parts.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels);
      const l =
        keys.length === 0
          ? ""
          : `{${keys.map((k) => `${k}="${escapeLabel(labels[k] as string)}"`).join(",")}}`;
      this.parts.push(`${name}${l} ${num(value)}\n`);
    }
  }

  text(): string {
    return this.parts.join("");
  }
}

const sec = (ms: number) => ms / 1000;

export function renderMetrics(m: MetricsInput): string {
  const w = new Writer();
  const s = m.snapshot;
  w.family("felhom_agent_build_info", "gauge", "The agent's version; always 1.", [
    [{ version: m.version }, 1],
  ]);
  w.family(
    "felhom_reconcile_passes_total",
    "counter",
    "Reconcile passes since the agent started.",
    [[{}, m.reconcile.passes]],
  );
  w.family(
    "felhom_reconcile_errors_total",
    "counter",
    "Reconcile passes that failed or had a failed action, since the agent started.",
    [[{}, m.reconcile.errors]],
  );
  w.family(
    "felhom_reconcile_last_pass_timestamp_seconds",
    "gauge",
    "When the last reconcile pass ended (Unix time).",
    m.reconcile.lastPassAt !== undefined ? [[{}, sec(m.reconcile.lastPassAt)]] : [],
  );
  w.family(
    "felhom_operations",
    "gauge",
    "Operations in the kept journal, by operation and phase.",
    m.operations.map((o) => [{ op: o.op, phase: o.phase }, o.count]),
  );
  w.family(
    "felhom_gate_decisions",
    "gauge",
    "Gate decisions in the kept audit log, by outcome.",
    m.gateDecisions.map((g) => [{ outcome: g.outcome }, g.count]),
  );
  w.family("felhom_held_operations", "gauge", "Operations held for a signature.", [
    [{}, m.heldOperations],
  ]);
  if (m.hub) {
    w.family("felhom_hub_link_up", "gauge", "1 when the last hub exchange succeeded.", [
      [
        {},
        m.hub.enrolled && m.hub.consecutiveFailures === 0 && m.hub.lastSuccessAt !== undefined
          ? 1
          : 0,
      ],
    ]);
    w.family("felhom_hub_consecutive_failures", "gauge", "Hub exchanges failed in a row.", [
      [{}, m.hub.consecutiveFailures],
    ]);
    w.family(
      "felhom_hub_outbox_depth",
      "gauge",
      "Reports and results waiting to be sent to the hub.",
      [[{}, m.hub.outboxDepth]],
    );
  }
  if (m.localApiRequests) {
    w.family(
      "felhom_localapi_requests_total",
      "counter",
      "Local-API requests by route and HTTP status.",
      m.localApiRequests.map((r) => [{ route: r.route, status: String(r.status) }, r.count]),
    );
  }
  w.family(
    "felhom_collector_up",
    "gauge",
    "1 when the collector's last run produced data, 0 when it was unavailable.",
    m.collectors.map((c) => [{ collector: c }, s[c]?.state === "ok" ? 1 : 0]),
  );
  const targets = s.storage?.state === "ok" ? s.storage.data : [];
  w.family(
    "felhom_storage_target_present",
    "gauge",
    "1 when the backup target is present, by storage id.",
    targets.map((t) => [{ storage: t.id, kind: t.kind }, t.present ? 1 : 0]),
  );
  w.family(
    "felhom_storage_target_free_ratio",
    "gauge",
    "Free space of an active backup target, 0..1.",
    targets
      .filter((t) => t.avail_pct !== null)
      .map((t) => [{ storage: t.id }, (t.avail_pct as number) / 100]),
  );
  const backups = s.backups?.state === "ok" ? s.backups.data : [];
  w.family(
    "felhom_backup_last_success_timestamp_seconds",
    "gauge",
    "When the guest's last successful backup ended (Unix time).",
    backups
      .filter((b) => b.lastSuccessAt !== null)
      .map((b) => [{ vmid: String(b.vmid) }, sec(b.lastSuccessAt as number)]),
  );
  const disks = s.disks?.state === "ok" ? s.disks.data : [];
  w.family(
    "felhom_disk_smart_passed",
    "gauge",
    "1 when SMART passes, 0 when it fails; absent when unknown.",
    disks
      .filter((d) => d.passed !== null)
      .map((d) => [{ device: d.devpath }, d.passed && !d.failing ? 1 : 0]),
  );
  w.family(
    "felhom_disk_wear_ratio",
    "gauge",
    "Share of the disk's rated endurance used, 0..1 (NVMe percentage_used).",
    disks
      .filter((d) => d.wearUsedPct !== null)
      .map((d) => [{ device: d.devpath }, (d.wearUsedPct as number) / 100]),
  );
  w.family(
    "felhom_disk_media_errors",
    "gauge",
    "NVMe media errors or ATA reallocated and pending sectors.",
    disks
      .filter((d) => d.errorCount !== null)
      .map((d) => [{ device: d.devpath }, d.errorCount as number]),
  );
  w.family(
    "felhom_disk_temperature_celsius",
    "gauge",
    "Disk temperature from SMART.",
    disks
      .filter((d) => d.temperatureC !== null)
      .map((d) => [{ device: d.devpath }, d.temperatureC as number]),
  );
  const temps = s.sensors?.state === "ok" ? s.sensors.data : [];
  w.family(
    "felhom_sensor_temperature_celsius",
    "gauge",
    "Hardware sensor temperatures.",
    temps.map((t) => [{ chip: t.chip, sensor: t.feature }, t.celsius]),
  );
  w.family(
    "felhom_sensor_temperature_max_celsius",
    "gauge",
    "The sensor's high limit, when it has a plausible one.",
    temps
      .filter((t) => t.max !== undefined)
      .map((t) => [{ chip: t.chip, sensor: t.feature }, t.max as number]),
  );
  if (s.tunnel !== undefined) {
    w.family(
      "felhom_tunnel_ready_connections",
      "gauge",
      "cloudflared's connections to the edge; 0 when it does not answer.",
      [[{}, s.tunnel.state === "ok" ? s.tunnel.data.readyConnections : 0]],
    );
  }
  w.family(
    "felhom_alerts_open",
    "gauge",
    "Open host-health alerts by kind and severity.",
    countAlerts(m.alerts),
  );
  return w.text();
}

function countAlerts(alerts: readonly Alert[]): [Labels, number][] {
  const by = new Map<string, [Labels, number]>();
  for (const a of alerts) {
    const key = `${a.kind}|${a.severity}`;
    const e = by.get(key) ?? [{ kind: a.kind, severity: a.severity }, 0];
    e[1]++;
    by.set(key, e);
  }
  return [...by.values()];
}
