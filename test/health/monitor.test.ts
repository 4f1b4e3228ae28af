import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { HealthMonitor } from "../../src/health/monitor.ts";
import { statusReportSchema } from "../../src/hub/protocol.ts";
import { collectStatusReport } from "../../src/hub/report-collector.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import {
  type FakeCloudflared,
  startFakeCloudflared,
} from "../../src/sim/cloudflared/ready-server.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import type { Store } from "../../src/store/store.ts";
import { agentClient } from "../proxmox/support/agent-client.ts";
import { TempStateDir } from "../store/support.ts";

let sim: PveSimulator;
let client: ReturnType<typeof agentClient>;
let cf: FakeCloudflared;
let tmp: TempStateDir;
let store: Store;

beforeAll(async () => {
  sim = await startPveSimulator();
  client = agentClient(sim);
  cf = startFakeCloudflared();
});
afterAll(async () => {
  await cf.stop();
  await sim.stop();
});
beforeEach(() => {
  tmp = new TempStateDir();
  store = tmp.open();
});
afterEach(() => tmp.cleanup());

const monitor = () =>
  new HealthMonitor({
    clock: tmp.clock,
    client,
    privileged: createPrivileged({ runner: sim.hostFs.runner() }),
    tunnelReadyUrl: cf.url,
    stateDir: tmp.dir,
    store: store.healthAlerts,
  });
const healthRows = () =>
  store.audit
    .list()
    .filter((r) => r.action === "health.alert")
    .map((r) => `${r.outcome} ${r.target} ${JSON.parse(r.details).kind}`);

describe("health monitor", () => {
  test("a disk starting to fail opens one alert with one audit row; recovery closes it after the delay", async () => {
    const m = monitor();
    expect((await m.tick()).opened).toEqual([]);
    sim.hostFs.hardware.failDisk("/dev/sda", 4);
    try {
      const r = await m.tick({ force: ["disks"] });
      expect(r.opened.map((a) => `${a.kind} ${a.subject} ${a.severity}`).sort()).toEqual([
        "media_errors_rising disk:/dev/sda warning",
        "smart_failing disk:/dev/sda critical",
      ]);
      expect(healthRows().sort()).toEqual([
        "open disk:/dev/sda media_errors_rising",
        "open disk:/dev/sda smart_failing",
      ]);
      // Looking again changes nothing: no second row.
      await m.tick({ force: ["disks"] });
      expect(healthRows()).toHaveLength(2);
      // A new process reads the open alerts back and does not open them again.
      const again = monitor();
      expect(
        again
          .alerts()
          .map((a) => a.kind)
          .sort(),
      ).toEqual(["media_errors_rising", "smart_failing"]);
      expect((await again.tick()).opened).toEqual([]);
    } finally {
      const d = sim.hostFs.hardware.disk("/dev/sda");
      if (d) Object.assign(d, { passed: true, errors: 0 });
    }
    await m.tick({ force: ["disks"] });
    tmp.clock.advance(61 * 60_000);
    const r = await m.tick({ force: ["disks"] });
    expect(r.closed.map((a) => a.kind)).toEqual(["smart_failing"]);
    expect(healthRows()).toContain("closed disk:/dev/sda smart_failing");
    expect(store.healthAlerts.list().map((a) => a.kind)).toEqual(["media_errors_rising"]);
  });

  test("the tunnel dropping opens its alert only after two minutes, and it reaches the report", async () => {
    const m = monitor();
    await m.tick();
    cf.setConnections(0);
    try {
      await m.tick({ force: ["tunnel"] });
      tmp.clock.advance(60_000);
      expect((await m.tick({ force: ["tunnel"] })).opened).toEqual([]);
      tmp.clock.advance(61_000);
      const r = await m.tick({ force: ["tunnel"] });
      expect(r.opened.map((a) => a.subject)).toEqual(["tunnel:cloudflared"]);
      const body = await collectStatusReport({
        proxmox: client,
        agentVersion: "0.1.0",
        alerts: () => m.alerts(),
        now: () => tmp.clock.now(),
      });
      const report = statusReportSchema.parse({ ...body, seq: 1 });
      expect(report.alerts?.map((a) => [a.kind, a.severity, a.subject])).toEqual([
        ["tunnel_down", "critical", "tunnel:cloudflared"],
      ]);
      expect(report.alerts?.[0]?.detail).toBe("0 ready connections");
    } finally {
      cf.setConnections(4);
    }
    tmp.clock.advance(1000);
    await m.tick({ force: ["tunnel"] });
    tmp.clock.advance(61_000);
    expect((await m.tick({ force: ["tunnel"] })).closed.map((a) => a.kind)).toEqual([
      "tunnel_down",
    ]);
  });

  test("collections are cached in the store for status", async () => {
    const m = monitor();
    await m.tick();
    const names = store.healthAlerts.collections().map((c) => c.collector);
    expect(names).toEqual(["disks", "node", "sensors", "store", "tunnel"]);
  });
});
