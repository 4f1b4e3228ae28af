import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { collect } from "../../src/health/collect.ts";
import { collectDisks } from "../../src/health/disks.ts";
import { HealthMonitor } from "../../src/health/monitor.ts";
import { collectNode } from "../../src/health/node.ts";
import { collectSensors } from "../../src/health/sensors.ts";
import { collectTunnel } from "../../src/health/tunnel.ts";
import { createPrivileged } from "../../src/proxmox/privileged.ts";
import type { Runner } from "../../src/proxmox/runner.ts";
import {
  type FakeCloudflared,
  startFakeCloudflared,
} from "../../src/sim/cloudflared/ready-server.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { agentClient } from "../proxmox/support/agent-client.ts";
import { ManualClock } from "../support/manual-clock.ts";

let sim: PveSimulator;
let client: ReturnType<typeof agentClient>;
let cf: FakeCloudflared;

beforeAll(async () => {
  sim = await startPveSimulator();
  client = agentClient(sim);
  cf = startFakeCloudflared();
  sim.hostFs.hardware.disks.push({
    devpath: "/dev/sdb",
    kind: "usb",
    model: "Elements_25A3",
    serial: "575844314141",
    sizeBytes: 4_000_752_599_040,
    passed: true,
    errors: 0,
    wearPct: 0,
    temperatureC: 31,
    passThrough: true,
  });
});
afterAll(async () => {
  await cf.stop();
  await sim.stop();
});

const signal = () => AbortSignal.timeout(10_000);
const privileged = () => createPrivileged({ runner: sim.hostFs.runner() });
/** What a host without the sudoers entry answers for every root command. */
const refusing: Runner = {
  run: async () => ({
    code: 1,
    signal: null,
    stdout: "",
    stderr: "sudo: a password is required\n",
    timedOut: false,
    truncated: false,
  }),
};
const hanging: Runner = { run: () => new Promise(() => {}) };

describe("health collectors", () => {
  test("disks: the inventory from disks/list, SMART per disk, -d sat for the USB disk", async () => {
    const disks = await collectDisks({ client, privileged: privileged() }, signal());
    expect(disks.map((d) => [d.devpath, d.type, d.smart, d.passed])).toEqual([
      ["/dev/nvme0n1", "nvme", "ok", true],
      ["/dev/sda", "ssd", "ok", true],
      ["/dev/sdb", "usb", "ok", true],
    ]);
    const nvme = disks[0];
    expect([nvme?.wearUsedPct, nvme?.errorCount, nvme?.temperatureC]).toEqual([3, 0, 38]);
    const usbCall = sim.hostFs.calls.find((c) => c.args.at(-1) === "/dev/sdb");
    expect(usbCall?.args).toEqual(["-a", "-j", "-d", "sat", "/dev/sdb"]);
  });

  test("disks: a failing disk is seen through smartctl's verdict and its exit bits", async () => {
    sim.hostFs.hardware.failDisk("/dev/sda", 12);
    try {
      const sda = (await collectDisks({ client, privileged: privileged() }, signal())).find(
        (d) => d.devpath === "/dev/sda",
      );
      expect([sda?.passed, sda?.errorCount]).toEqual([false, 12]);
      expect((sda?.exitStatus ?? 0) & 8).toBe(8);
    } finally {
      const d = sim.hostFs.hardware.disk("/dev/sda");
      if (d) Object.assign(d, { passed: true, errors: 0 });
    }
  });

  test("disks: a USB bridge without pass-through keeps its reason, the other disks are read", async () => {
    const usb = sim.hostFs.hardware.disk("/dev/sdb");
    if (usb) usb.passThrough = false;
    try {
      const disks = await collectDisks({ client, privileged: privileged() }, signal());
      const sdb = disks.find((d) => d.devpath === "/dev/sdb");
      expect(sdb?.passed).toBeNull();
      expect(sdb?.smart).toContain("smartctl");
      expect(disks.filter((d) => d.smart === "ok")).toHaveLength(2);
    } finally {
      if (usb) usb.passThrough = true;
    }
  });

  test("sensors: temperatures with plausible limits only", async () => {
    sim.hostFs.hardware.temperatures.push({
      chip: "nvme-pci-0100",
      adapter: "PCI adapter",
      feature: "Sensor 1",
      input: 38.85,
      max: 65261.85,
    });
    try {
      const temps = await collectSensors(privileged());
      expect(temps.find((t) => t.feature === "Package id 0")).toMatchObject({
        celsius: 45,
        max: 80,
        crit: 100,
      });
      expect(temps.find((t) => t.feature === "Sensor 1")).toEqual({
        chip: "nvme-pci-0100",
        feature: "Sensor 1",
        celsius: 38.85,
      });
    } finally {
      sim.hostFs.hardware.temperatures.pop();
    }
  });

  test("node: status from Proxmox", async () => {
    const n = await collectNode(client, signal());
    expect(n.memoryTotalBytes).toBeGreaterThan(0);
    expect(n.load1).toBe(0.21);
  });

  test("tunnel: ready connections; 503 with none is data, not a failure", async () => {
    expect(await collectTunnel(cf.url, signal())).toEqual({
      readyConnections: 4,
      connectorId: "5e3f1c2a-9b7d-4c1e-8f20-1a2b3c4d5e6f",
    });
    cf.setConnections(0);
    try {
      expect((await collectTunnel(cf.url, signal())).readyConnections).toBe(0);
    } finally {
      cf.setConnections(4);
    }
    await expect(collectTunnel(cf.url.replace("/ready", "/nope"), signal())).rejects.toThrow(
      "HTTP 404",
    );
  });

  test("sudo refused: disks and sensors unavailable with the reason, node and tunnel carry on", async () => {
    const clock = new ManualClock();
    const m = new HealthMonitor({
      clock,
      client,
      privileged: createPrivileged({ runner: refusing }),
      tunnelReadyUrl: cf.url,
    });
    await m.tick();
    const s = m.snapshot();
    expect(s.disks?.state).toBe("unavailable");
    expect(s.disks?.state === "unavailable" && s.disks.reason).toContain(
      "sudo: a password is required",
    );
    expect(s.sensors?.state === "unavailable" && s.sensors.reason).toContain("sudo");
    expect(s.node?.state).toBe("ok");
    expect(s.tunnel?.state).toBe("ok");
    expect(m.alerts()).toEqual([]);
  });

  test("a hanging tool: the collector times out alone", async () => {
    const clock = new ManualClock();
    const m = new HealthMonitor({
      clock,
      client,
      privileged: createPrivileged({ runner: hanging }),
      timeoutsMs: { disks: 100, sensors: 100 },
    });
    await m.tick();
    const s = m.snapshot();
    expect(s.sensors?.state === "unavailable" && s.sensors.reason).toBe("timed out after 100 ms");
    expect(s.disks?.state === "unavailable" && s.disks.reason).toBe("timed out after 100 ms");
    expect(s.node?.state).toBe("ok");
  });

  test("collect: an error becomes unavailable, never a throw", async () => {
    const r = await collect(
      async () => {
        throw new Error("smartctl: not found");
      },
      1000,
      () => 7,
    );
    expect(r).toEqual({ state: "unavailable", at: 7, reason: "smartctl: not found" });
  });
});
