import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { runDaemon } from "../../src/cli/run.ts";
import type { HealthMonitor } from "../../src/health/monitor.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import {
  type FakeCloudflared,
  startFakeCloudflared,
} from "../../src/sim/cloudflared/ready-server.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { type PveSimulator, SimHostFs, startPveSimulator } from "../../src/sim/pve/index.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";
import { keyFromSeed } from "../authz/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import { fastSimClient, hubDaemonConfig, pollUntil, startHubWithOperator } from "./support.ts";

/**
 * The whole daemon with host health on: the collectors run against the simulator's disks and
 * a stand-in cloudflared, /metrics answers on loopback, and a disk that starts to fail opens
 * an alert that the hub receives in a report and as an audit row.
 */

const operator = await keyFromSeed(33, "operator@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-health-e2e-"));
const stateDir = join(dir, "state");
const fs = new SimHostFs();
let pve: PveSimulator;
let hub: HubSimulator;
let cf: FakeCloudflared;
let identity: HubIdentity;
const until = pollUntil(300);

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 40, authFailDelayMs: 0, hostFs: fs });
  hub = await startHubWithOperator(operator);
  cf = startFakeCloudflared();
  identity = await enrollIn(hub, stateDir);
});

afterAll(async () => {
  await cf?.stop();
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("daemon: collectors, /metrics on loopback, a failing disk's alert at the hub", async () => {
  const port = await freeLoopbackPort();
  const metricsPort = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      ...hubDaemonConfig({ pve, stateDir, port, logLevel: "info" }),
      health: { tunnel: { enabled: true, metrics_port: cf.port } },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    }),
  );
  hub.setDesired({ version: 1, guests: {} }, identity.host_id);
  const stop = new AbortController();
  let monitor: HealthMonitor | undefined;
  let metricsUrl: string | undefined;
  const exit = runDaemon(
    ["run"],
    { configPath, env: {}, stdout: () => {}, stderr: () => {} },
    {
      signal: stop.signal,
      makeClient: () => fastSimClient(pve),
      healthPrivileged: createPrivileged({ runner: fs.runner() }),
      onHealth: (m) => {
        monitor = m;
      },
      onMetrics: (url) => {
        metricsUrl = url;
      },
    },
  );
  try {
    const url = await until("the metrics listener", () => metricsUrl);
    expect(url).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    await until("a first collection", () => monitor?.snapshot().disks);
    const res = await fetch(url);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusTextFormat(await res.text());
    const up = families.find((f) => f.name === "felhom_collector_up")?.metrics ?? [];
    expect(Object.fromEntries(up.map((m) => [m.labels?.collector, m.value]))).toMatchObject({
      disks: "1",
      sensors: "1",
      node: "1",
      tunnel: "1",
      store: "1",
    });
    expect(
      families.find((f) => f.name === "felhom_tunnel_ready_connections")?.metrics[0]?.value,
    ).toBe("4");

    fs.hardware.failDisk("/dev/sda", 3);
    await monitor?.tick({ force: ["disks"] });
    const report = await until("a report with the alert", () =>
      hub.state.reports
        .filter((r) => r.hostId === identity.host_id)
        .find((r) => r.alerts?.some((a) => a.kind === "smart_failing")),
    );
    expect(report.alerts?.find((a) => a.kind === "smart_failing")?.subject).toBe("disk:/dev/sda");
    await until("the audit row at the hub", () =>
      hub.state.audit.find(
        (a) => a.action === "health.alert" && a.target === "disk:/dev/sda" && a.outcome === "open",
      ),
    );
  } finally {
    stop.abort();
    expect(await exit).toBe(0);
  }
});
