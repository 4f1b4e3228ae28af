import { join } from "node:path";
import { createEd25519 } from "../../authz/ed25519.ts";
import { buildPayload, signEnvelope } from "../../authz/sign.ts";
import { toSigners } from "../../authz/signers.ts";
import { ed25519PublicKeyFromRaw, formatSshPublicKey } from "../../authz/ssh-public-key.ts";
import type { Ed25519SeedKey } from "../../authz/sshsig.ts";
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
const HOST_ID = "demo-host";
const ed = createEd25519();

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
 * side (here the simulator's fake host) and defined in Proxmox; the NFS export, where backups
 * would leave the host, waits for the operator's signature and is defined once approved; then
 * the disk is pulled, and the report and the audit log say so.
 */
export const STORAGE_STEPS: DemoStep[] = [
  {
    title:
      "Backup targets from the hub's manifest: attach a USB disk, add an NFS export only once signed, then unplug the disk",
    async run(env) {
      const fs = env.sim.hostFs;
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const operator: Ed25519SeedKey = {
        seed,
        publicKey: ed25519PublicKeyFromRaw(await ed.publicKey(seed)),
        comment: "operator@demo",
      };
      fs.plug(UUID);
      const doc = desiredStateSchema.parse(MANIFEST);
      env.io.out(`    manifest: ${JSON.stringify(doc.storage_targets)}\n`);
      const store = openStore({
        path: join(env.workDir, "storage-state", "state.db"),
        clock: env.io.clock,
        logger: env.logger,
      });
      const client = env.client(env.sim.tokens.agent);
      const gate = new ReversibilityGate({
        store,
        hostId: HOST_ID,
        signers: toSigners([
          {
            name: "operator",
            key: formatSshPublicKey(operator.publicKey, operator.comment),
            role: "operational",
          },
        ]),
        clock: env.io.clock,
        ed25519: ed,
      });
      const engine = new Engine({
        store,
        client,
        gate,
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
          env.io.out(
            `    storage.add ${r.state === "done" ? JSON.stringify(r.result) : r.id} -> ${r.state}${r.reason ? ` (${r.reason})` : ""}\n`,
          );
        }
        for (const c of fs.calls) env.io.out(`    root: ${c.cmd} ${c.args.join(" ")}\n`);
        const postsBefore = env.sim.stats().applied["POST /storage"] ?? 0;
        const waiting = await reconciler.runPass();
        for (const k of waiting.storage?.plan.skipped ?? []) {
          env.io.out(`    next pass: ${k.id} ${k.why}\n`);
        }
        const held = store.pending.list({ status: "pending" });
        let approved = "";
        for (const row of held) {
          const payload = buildPayload({
            op: "storage.add",
            host: HOST_ID,
            params: row.params as Record<string, unknown>,
            now: Math.floor(env.io.clock.now() / 1000),
            ttlSeconds: 600,
          });
          const envelope = await signEnvelope(ed, operator, payload);
          const { verdict, request } = await gate.releasePending(row.id, envelope);
          const end = request ? await (await engine.enqueue(request)).settled : undefined;
          approved = end?.state ?? verdict.outcome;
          env.io.out(
            `    the operator signs ${row.id} (felhom-agent op sign … then pending approve) -> ${verdict.outcome}, ${approved}\n`,
          );
        }
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
        const states = pass.storage?.results.map((r) => r.state) ?? [];
        return {
          behaved:
            states.join(",") === "done,pending_signature" &&
            postsBefore === 1 &&
            waiting.storage?.results.length === 0 &&
            held.length === 1 &&
            approved === "done" &&
            (env.sim.stats().applied["POST /storage"] ?? 0) === 2 &&
            again.storage?.results.length === 0 &&
            env.sim.state.storage("usb1")?.path === "/mnt/felhom/usb1" &&
            env.sim.state.storage("nas1") !== undefined &&
            usb?.present === false &&
            usb.reason === `USB disk ${UUID} not attached` &&
            rows.length === 1 &&
            rows[0]?.outcome === "missing",
          note: "the USB disk added unsigned, the NFS export held (nothing sent) until signed, then added once; nothing on the next pass; the pulled disk is reported missing with one audit row",
        };
      } finally {
        await engine.stop();
        client.close();
        store.close();
      }
    },
  },
];
