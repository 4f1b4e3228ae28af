import { join } from "node:path";
import { HealthMonitor } from "../../health/monitor.ts";
import { healthStatus, healthText } from "../../health/status-view.ts";
import { reportBatchSchema } from "../../hub/protocol.ts";
import { collectStatusReport } from "../../hub/report-collector.ts";
import { createPrivileged } from "../../proxmox/privileged.ts";
import { startFakeCloudflared } from "../../sim/cloudflared/ready-server.ts";
import { openStore } from "../../store/open.ts";
import type { DemoStep } from "../types.ts";

/**
 * Host health: the collectors read the simulator's disks (SMART through the fake root side),
 * sensors and node, and a stand-in cloudflared; a disk starts to fail and the tunnel drops,
 * each opening one alert with one audit row, both in the report the hub link sends, and the
 * host's `status` view shows them. The tunnel's two minutes pass on a clock the step moves.
 */
export const HEALTH_STEPS: DemoStep[] = [
  {
    title: "Host health: a disk starts to fail and the tunnel drops; alerts reach the report",
    async run(env) {
      const cf = startFakeCloudflared();
      const store = openStore({
        path: join(env.workDir, "health-state", "state.db"),
        clock: env.io.clock,
        logger: env.logger,
      });
      const client = env.client(env.sim.tokens.agent);
      let skew = 0;
      const clock = { now: () => env.io.clock.now() + skew, sleep: env.io.clock.sleep };
      const hw = env.sim.hostFs.hardware;
      try {
        const monitor = new HealthMonitor({
          clock,
          client,
          privileged: createPrivileged({ runner: env.sim.hostFs.runner() }),
          tunnelReadyUrl: cf.url,
          stateDir: env.workDir,
          store: store.healthAlerts,
          logger: env.logger,
        });
        await monitor.tick();
        const disks = monitor.snapshot().disks;
        if (disks?.state === "ok") {
          for (const d of disks.data) {
            env.io.out(
              `    ${d.devpath} ${d.type} SMART ${d.passed ? "passed" : "failed"}, ${d.temperatureC} °C\n`,
            );
          }
        }
        env.io.out("    /dev/sda starts to fail (SMART verdict FAILED, 8 new bad sectors)\n");
        hw.failDisk("/dev/sda", 8);
        const failing = await monitor.tick({ force: ["disks"] });
        env.io.out("    the tunnel loses its connections; two minutes pass\n");
        cf.setConnections(0);
        await monitor.tick({ force: ["tunnel"] });
        skew += 121_000;
        const dropped = await monitor.tick({ force: ["tunnel"] });
        for (const a of [...failing.opened, ...dropped.opened]) {
          env.io.out(`    alert opened: ${a.severity} ${a.kind} ${a.subject}: ${a.detail}\n`);
        }
        const body = await collectStatusReport({
          proxmox: client,
          agentVersion: "demo",
          alerts: () => monitor.alerts(),
          now: () => clock.now(),
        });
        const rows = store.audit.list().filter((r) => r.action === "health.alert");
        const batch = reportBatchSchema.parse({
          reports: [{ ...body, seq: 1 }],
          audit: rows.map((r, i) => ({
            seq: i + 1,
            ts: r.ts,
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            details: r.details,
            prev_hash: r.prevHash,
            hash: r.hash,
          })),
        });
        env.io.out(
          `    report to the hub: alerts ${JSON.stringify(batch.reports[0]?.alerts?.map((a) => `${a.kind} ${a.subject}`))}, ${batch.audit.length} health.alert audit rows\n`,
        );
        const view = healthText(healthStatus(store, clock.now()));
        for (const line of view.trimEnd().split("\n")) env.io.out(`    status | ${line}\n`);
        const kinds = monitor
          .alerts()
          .map((a) => a.kind)
          .sort();
        return {
          behaved:
            JSON.stringify(kinds) ===
              JSON.stringify(["media_errors_rising", "smart_failing", "tunnel_down"]) &&
            rows.length === 3 &&
            batch.reports[0]?.alerts?.length === 3 &&
            view.includes("/dev/sda FAILING"),
          note: "a failing disk opens smart_failing and media_errors_rising, the tunnel down for two minutes opens tunnel_down; one audit row each, all in the report",
        };
      } finally {
        const d = hw.disk("/dev/sda");
        if (d) Object.assign(d, { passed: true, errors: 0 });
        client.close();
        store.close();
        await cf.stop();
      }
    },
  },
];
