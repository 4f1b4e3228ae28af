import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import { ReversibilityGate } from "../../gate/gate.ts";
import { desiredStateSchema } from "../../hub/desired-schema.ts";
import { storageTargetReportSchema } from "../../hub/protocol.ts";
import { createPrivileged } from "../../proxmox/privileged.ts";
import { cachedDesiredProvider } from "../../reconcile/desired-provider.ts";
import { parseDesiredDocument, storageReferences } from "../../reconcile/desired-state.ts";
import { Engine } from "../../reconcile/engine.ts";
import { Reconciler } from "../../reconcile/reconciler.ts";
import { checkTargets } from "../../reconcile/storage-presence.ts";
import { openStore } from "../../store/open.ts";
import type { DemoStep } from "../types.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";

/** The manifest as the hub serves it (validated against the hub contract below). */
const MANIFEST = {
  version: 1,
  guests: {},
  storage_targets: {
    usb1: { kind: "usb", fs_uuid: UUID, class: "slow", role: "local" },
    nas1: { kind: "nfs", server: "nas.lan", export: "/srv/backup", class: "slow", role: "local" },
  },
};

/**
 * Backup targets from the hub's manifest: a USB disk is mounted by UUID through the privileged
 * side (here the simulator's fake host) and defined in Proxmox, an NFS export is defined; then
 * the disk is pulled, and the report and the audit log say so.
 */
export const STORAGE_STEPS: DemoStep[] = [
  {
    title:
      "Backup targets from the hub's manifest: attach a USB disk and an NFS export, then unplug the disk",
    async run(env) {
      const fs = env.sim.hostFs;
      fs.plug(UUID);
      const doc = desiredStateSchema.parse(MANIFEST);
      env.io.out(`    manifest: ${JSON.stringify(doc.storage_targets)}\n`);
      const store = openStore({
        path: join(env.workDir, "storage-state", "state.db"),
        clock: env.io.clock,
        logger: env.logger,
      });
      const client = env.client(env.sim.tokens.agent);
      const engine = new Engine({
        store,
        client,
        gate: new ReversibilityGate({
          store,
          hostId: undefined,
          signers: [],
          clock: env.io.clock,
          ed25519: createEd25519(),
        }),
        concurrency: 4,
        clock: env.io.clock,
        logger: env.logger,
        hostOps: {
          client,
          privileged: createPrivileged({ runner: fs.runner(), mountRoots: ["/mnt/felhom"] }),
          openSecret: () => {
            throw new Error("this manifest has no sealed secret");
          },
          storageReferences: () => storageReferences(parseDesiredDocument(doc, "demo")),
        },
      });
      try {
        store.desired.put({ document: JSON.stringify(doc), source: "hub" });
        const reconciler = new Reconciler({
          engine,
          client,
          desired: cachedDesiredProvider(store.desired),
          clock: env.io.clock,
          logger: env.logger,
          readConcurrency: 4,
          storage: { client, mounts: fs.probe() },
        });
        const pass = await reconciler.runPass();
        for (const r of pass.storage?.results ?? []) {
          env.io.out(`    ${r.op} ${JSON.stringify(r.result)} -> ${r.state}\n`);
        }
        for (const c of fs.calls) env.io.out(`    root: ${c.cmd} ${c.args.join(" ")}\n`);
        const again = await reconciler.runPass();
        const targets = parseDesiredDocument(doc, "demo").storageTargets;
        const look = () =>
          checkTargets({ client, mounts: fs.probe(), targets, presence: store.storagePresence });
        await look();
        env.io.out(`    the USB disk ${UUID} is pulled out\n`);
        fs.unplug(UUID);
        const report = await look();
        for (const t of report) {
          env.io.out(`    report: ${JSON.stringify(storageTargetReportSchema.parse(t))}\n`);
        }
        const rows = store.audit.list().filter((a) => a.action === "storage.presence");
        for (const a of rows) {
          env.io.out(
            `    audit #${a.seq}: ${a.actor} ${a.action} ${a.target} ${a.outcome} ${a.details}\n`,
          );
        }
        const usb = report.find((t) => t.id === "usb1");
        return {
          behaved:
            pass.storage?.results.length === 2 &&
            pass.storage.results.every((r) => r.state === "done") &&
            again.storage?.results.length === 0 &&
            env.sim.state.storage("usb1")?.path === "/mnt/felhom/usb1" &&
            env.sim.state.storage("nas1") !== undefined &&
            usb?.present === false &&
            usb.reason === `USB disk ${UUID} not attached` &&
            rows.length === 1 &&
            rows[0]?.outcome === "missing",
          note: "two targets added in one pass, nothing on the next; the pulled disk is reported missing with one audit row",
        };
      } finally {
        await engine.stop();
        client.close();
        store.close();
      }
    },
  },
];
