import { describe, expect, test } from "bun:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { startMetricsServer } from "../../src/daemon/metrics-server.ts";
import { metricsSection } from "../../src/health/config-section.ts";
import {
  METRICS_CONTENT_TYPE,
  type MetricsInput,
  renderMetrics,
} from "../../src/health/metrics.ts";
import { silentLogger } from "../../src/log/types.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";

const T = Date.UTC(2026, 5, 1, 12);
const ok = <D>(data: D) => ({ state: "ok" as const, at: T, data });

function sampleInput(guests = 3): MetricsInput {
  return {
    version: "0.1.0",
    collectors: ["disks", "sensors", "node", "storage", "backups", "tunnel", "store"],
    snapshot: {
      disks: ok([
        {
          devpath: "/dev/nvme0n1",
          type: "nvme",
          model: "m",
          serial: "s",
          sizeBytes: 1,
          smart: "ok",
          passed: true,
          temperatureC: 38,
          wearUsedPct: 3,
          errorCount: 0,
          failing: false,
          exitStatus: 0,
        },
        {
          devpath: "/dev/sdb",
          type: "usb",
          model: null,
          serial: null,
          sizeBytes: null,
          smart: "no pass-through",
          passed: null,
          temperatureC: null,
          wearUsedPct: null,
          errorCount: null,
          failing: false,
          exitStatus: null,
        },
      ]),
      sensors: ok([
        {
          chip: "coretemp-isa-0000",
          feature: 'Package "id" 0\\x',
          celsius: 45,
          max: 80,
          crit: 100,
        },
      ]),
      storage: ok([
        {
          id: "usb1",
          kind: "usb" as const,
          managed: true,
          present: false,
          active: false,
          avail_pct: null,
          since: null,
          reason: "gone",
        },
        {
          id: "nas",
          kind: "nfs" as const,
          managed: true,
          present: true,
          active: true,
          avail_pct: 42.5,
          since: null,
          reason: null,
        },
      ]),
      backups: ok(
        Array.from({ length: guests }, (_, i) => ({ vmid: 100 + i, lastSuccessAt: T - i * 1000 })),
      ),
      tunnel: { state: "unavailable", at: T, reason: "connection refused" },
      node: { state: "unavailable", at: T, reason: "timed out after 15000 ms" },
    } as MetricsInput["snapshot"],
    alerts: [
      {
        kind: "target_absent",
        severity: "critical",
        subject: "storage:usb1",
        since: T,
        detail: "gone",
      },
      {
        kind: "tunnel_down",
        severity: "critical",
        subject: "tunnel:cloudflared",
        since: T,
        detail: "x",
      },
    ],
    reconcile: { passes: 12, errors: 1, lastPassAt: T },
    operations: [{ op: "guest.start", phase: "done", count: 3 }],
    gateDecisions: [
      { outcome: "allowed", count: 5 },
      { outcome: "rejected:replay", count: 1 },
    ],
    heldOperations: 2,
    hub: { enrolled: true, consecutiveFailures: 0, lastSuccessAt: T, outboxDepth: 4 },
  };
}

/** The exposition format's line grammar, checked beside the parser. */
function checkLines(text: string): void {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Set<string>();
  let current: string | undefined;
  let typed = false;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)$/.exec(line);
    if (help) {
      expect(families.has(help[1] as string)).toBe(false);
      families.add(help[1] as string);
      current = help[1];
      typed = false;
      continue;
    }
    if (type) {
      expect(type[1]).toBe(current as string);
      if (type[2] === "counter") expect(type[1]?.endsWith("_total")).toBe(true);
      typed = true;
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(
        line,
      );
    expect(sample, line).not.toBeNull();
    expect(sample?.[1]).toBe(current as string);
    expect(typed).toBe(true);
  }
  for (const f of families) expect(f.startsWith("felhom_")).toBe(true);
}

describe("/metrics", () => {
  test("the text format parses with a Prometheus parser, names and values as gathered", () => {
    const text = renderMetrics(sampleInput());
    checkLines(text);
    const parsed = parsePrometheusTextFormat(text);
    const fam = (n: string) => parsed.find((f) => f.name === n);
    expect(fam("felhom_agent_build_info")?.metrics).toEqual([
      { labels: { version: "0.1.0" }, value: "1" },
    ]);
    expect(fam("felhom_reconcile_passes_total")?.type).toBe("COUNTER");
    expect(fam("felhom_collector_up")?.metrics.map((m) => [m.labels?.collector, m.value])).toEqual([
      ["disks", "1"],
      ["sensors", "1"],
      ["node", "0"],
      ["storage", "1"],
      ["backups", "1"],
      ["tunnel", "0"],
      ["store", "0"],
    ]);
    expect(
      fam("felhom_storage_target_present")?.metrics.map((m) => [m.labels?.storage, m.value]),
    ).toEqual([
      ["usb1", "0"],
      ["nas", "1"],
    ]);
    expect(fam("felhom_storage_target_free_ratio")?.metrics).toEqual([
      { labels: { storage: "nas" }, value: "0.425" },
    ]);
    expect(fam("felhom_backup_last_success_timestamp_seconds")?.metrics[0]).toEqual({
      labels: { vmid: "100" },
      value: String(T / 1000),
    });
    expect(fam("felhom_disk_smart_passed")?.metrics).toEqual([
      { labels: { device: "/dev/nvme0n1" }, value: "1" },
    ]);
    expect(fam("felhom_sensor_temperature_celsius")?.metrics[0]?.labels?.sensor).toBe(
      'Package "id" 0\\x',
    );
    expect(fam("felhom_tunnel_ready_connections")?.metrics[0]?.value).toBe("0");
    expect(fam("felhom_hub_outbox_depth")?.metrics[0]?.value).toBe("4");
    expect(fam("felhom_alerts_open")?.metrics).toEqual([
      { labels: { kind: "target_absent", severity: "critical" }, value: "1" },
      { labels: { kind: "tunnel_down", severity: "critical" }, value: "1" },
    ]);
  });

  test("served on a loopback listener with the 0.0.4 content type; other paths and methods refused", async () => {
    const port = await freeLoopbackPort();
    const srv = startMetricsServer(
      `127.0.0.1:${port}`,
      () => renderMetrics(sampleInput()),
      silentLogger,
    );
    try {
      const res = await fetch(srv.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
      expect(METRICS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(parsePrometheusTextFormat(await res.text()).length).toBeGreaterThan(10);
      expect((await fetch(srv.url.replace("/metrics", "/"))).status).toBe(404);
      expect((await fetch(srv.url, { method: "POST" })).status).toBe(405);
    } finally {
      await srv.stop();
    }
  });

  test("metrics.listen: loopback only, off by default", () => {
    const parse = (v: unknown) => metricsSection.schema.safeParse(v);
    expect(parse({}).data).toEqual({});
    expect(parse({ listen: "127.0.0.1:9321" }).success).toBe(true);
    expect(parse({ listen: "[::1]:9321" }).success).toBe(true);
    expect(parse({ listen: "0.0.0.0:9321" }).success).toBe(false);
    expect(parse({ listen: "192.168.1.5:9321" }).success).toBe(false);
    expect(parse({ listen: "127.0.0.1:70000" }).success).toBe(false);
  });
});
