import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import { ReversibilityGate } from "../../gate/gate.ts";
import type { BackupPolicy } from "../../ops/params/backup-policy.ts";
import { createProxmoxClient } from "../../proxmox/client.ts";
import { DEFAULT_BACKUP_FLOOR } from "../../reconcile/backup-floor.ts";
import { backupFreshness } from "../../reconcile/backup-freshness.ts";
import { BackupScheduler } from "../../reconcile/backup-scheduler.ts";
import { Engine } from "../../reconcile/engine.ts";
import { openStore } from "../../store/open.ts";
import type { Clock } from "../../util/clock.ts";
import type { DemoStep } from "../types.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Two tiers: the NAS (defined by the step before) just after midnight, then the node's `local`. */
const POLICY: BackupPolicy = {
  tiers: {
    local: { schedule: { daily: "01:00-03:00" }, retention: { keep_last: 3 } },
    nas1: { schedule: { daily: "00:00-01:00" }, retention: { keep_daily: 7 } },
  },
  guests: { "102": { exclude: true }, "103": { tiers: { nas1: { exclude: true } } } },
};

/** The agent's clock for the night: real time moved forward by the step, 20 minutes at a go. */
class NightClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return Bun.sleep(ms).then(() => {
      if (signal?.aborted) throw signal.reason;
    });
  }
}

function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}-${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
}

/**
 * A night of scheduled backups in accelerated time (docs/reconcile.md#backup-schedule): each
 * guest once to each tier in its window, the retention step after each new backup keeping the
 * floor, the NAS failing (reported, not retried at every tick), and the guest left without a
 * good NAS backup flagged overdue.
 */
export const BACKUP_STEPS: DemoStep[] = [
  {
    title:
      "A night of scheduled backups, accelerated: two tiers, retention with a floor, a failure",
    async run(env) {
      const local = env.sim.state.storage("local");
      if (local === undefined || env.sim.state.storage("nas1") === undefined) {
        return { behaved: false, note: "the simulator has no local or nas1 storage" };
      }
      // Five older backups of guest 101: 1, 2, 3, 10 and 20 days old.
      const old: string[] = [];
      for (const days of [1, 2, 3, 10, 20]) {
        const ms = Date.now() - days * DAY;
        const volid = `local:backup/vzdump-lxc-101-${stamp(ms)}.tar.zst`;
        old.push(volid);
        local.volumes.set(volid, {
          volid,
          content: "backup",
          format: "tar.zst",
          size: 300_000_000,
          ctime: Math.floor(ms / 1000),
          vmid: 101,
        });
      }
      const clock = new NightClock();
      // 00:30 UTC of the coming night.
      const start = Math.floor(Date.now() / DAY) * DAY + DAY + 30 * 60_000;
      clock.offset = start - Date.now();
      const store = openStore({
        path: join(env.workDir, "backup-state", "state.db"),
        clock,
        logger: env.logger,
      });
      // Polled briskly, so the night's handful of tasks stays a few seconds of the demo.
      const client = createProxmoxClient({
        endpoint: env.sim.endpoint,
        node: env.sim.node,
        token: env.sim.tokens.agent,
        trust: { kind: "fingerprint", sha256: env.sim.fingerprint },
        logger: env.logger,
        taskPoll: { initialMs: 100, factor: 1.2, maxMs: 150 },
      });
      const engine = new Engine({
        store,
        client,
        gate: new ReversibilityGate({
          store,
          hostId: undefined,
          signers: [],
          clock,
          ed25519: createEd25519(),
        }),
        concurrency: 4,
        clock,
        logger: env.logger,
      });
      // What the store knew before tonight: last night's backups, and a NAS that has been
      // failing for days (its newest good backup of 101 is three days old).
      const seen = (vmid: number, storage: string, at: number) =>
        store.backupHistory.record({
          vmid,
          storage,
          volid: null,
          result: "ok",
          startedAt: at - 60_000,
          finishedAt: at,
          size: null,
          reason: null,
          logTail: null,
          journalId: null,
        });
      seen(101, "local", start - DAY + HOUR);
      seen(103, "local", start - DAY + HOUR);
      seen(101, "nas1", start - 3 * DAY + 3 * HOUR);
      const scheduler = new BackupScheduler({
        store,
        desired: () => ({ guests: new Map(), backupPolicy: POLICY }),
        engine,
        listGuests: async () =>
          (await client.listLXC())
            // The seeded customers only; guests earlier steps made are not tonight's.
            .filter((g) => !g.template && g.vmid >= 101 && g.vmid <= 103)
            .map((g) => ({
              vmid: g.vmid,
              status: g.status === "running" ? "running" : "stopped",
              ...(g.lock !== undefined ? { lock: g.lock } : {}),
            })),
        pruneDryRun: (storage, p) => client.pruneDryRun(storage, p),
        taskLogTail: (upid) => client.taskLogTail(upid, 30),
        clock,
        config: {
          floor: DEFAULT_BACKUP_FLOOR,
          catchupJitterMs: 0,
          concurrency: 1,
          retryAfterMs: 6 * HOUR,
          utcOffsetMs: 0,
          guestListMaxAgeMs: 12 * HOUR,
          seed: "demo-host",
        },
      });
      const settle = async () => {
        for (let i = 0; i < 600 && store.journal.inFlight().length > 0; i++) await Bun.sleep(10);
      };
      const hhmm = () => new Date(clock.now()).toISOString().slice(11, 16);
      try {
        let failedNas = 0;
        for (let t = start; t <= start + 3 * HOUR; t += 20 * 60_000) {
          clock.offset = t - Date.now();
          // The NAS is full tonight: every backup in its window fails.
          const nas = hhmm() < "01:00";
          env.sim.setFaults(nas ? { taskFail: ["vzdump"] } : {});
          const r = await scheduler.tick();
          for (const s of r.started)
            env.io.out(`    ${hhmm()} backup ${s.vmid} -> ${s.storage} (${s.reason})\n`);
          for (const d of r.retention) {
            env.io.out(
              `    ${hhmm()} retention ${d.vmid} on ${d.storage} under ${d.retention}: keep ${d.decision.kept.length}, remove ${d.decision.removed.length}\n`,
            );
          }
          await settle();
          if (nas) failedNas += r.started.filter((s) => s.storage === "nas1").length;
        }
        env.sim.setFaults({});
        await scheduler.tick();
        await settle();
        const rows = backupFreshness(
          POLICY,
          [101, 102, 103],
          store.backupHistory.summaries(),
          clock.now(),
        );
        for (const f of rows) {
          env.io.out(
            `    report ${f.vmid}/${f.storage}: last good ${f.last_good_at ?? "never"}, count ${f.count}${f.last_failure ? `, last failure: ${f.last_failure.reason}` : ""}${f.overdue ? ", OVERDUE" : ""}\n`,
          );
        }
        const left = [...local.volumes.keys()].filter((v) => v.includes("vzdump-lxc-101-"));
        const pruned = old.filter((v) => !left.includes(v));
        env.io.out(
          `    guest 101 on local: pruned ${pruned.length} (the 10 and 20 days old), ${left.length} left\n`,
        );
        const audit = store.audit
          .list({ limit: 1000 })
          .filter((a) => a.action === "backup.retention");
        for (const a of audit) {
          const d = JSON.parse(a.details) as { kept: { why: string }[]; removed: string[] };
          env.io.out(
            `    audit #${a.seq}: ${a.action} ${a.target} ${a.outcome}: kept ${d.kept.map((k) => k.why).join(", ")}; removed ${d.removed.length}\n`,
          );
        }
        const byKey = new Map(rows.map((f) => [`${f.vmid}/${f.storage}`, f]));
        return {
          behaved:
            byKey.get("101/local")?.overdue === false &&
            byKey.get("103/local")?.overdue === false &&
            byKey.get("101/nas1")?.overdue === true &&
            byKey.get("101/nas1")?.last_failure !== null &&
            failedNas >= 1 &&
            pruned.length === 2 &&
            pruned.every((v) => v === old[3] || v === old[4]) &&
            audit.length === 2 &&
            audit.every((a) => a.outcome === "prune" || a.outcome === "nothing_to_remove") &&
            !byKey.has("102/local"),
          note: "each guest backed up once to local in its window, 101's retention pruned only what the floor allows (one audit row per decision), the failed NAS backup reported and 101 flagged overdue there",
        };
      } finally {
        env.sim.setFaults({});
        await engine.stop();
        client.close();
        store.close();
      }
    },
  },
];
