import { join } from "node:path";
import { buildPayload, signEnvelope } from "../../authz/sign.ts";
import { offeredSigners } from "../../hub/signer-acceptance.ts";
import { openStore } from "../../store/open.ts";
import type { DemoEnv, DemoStep } from "../types.ts";
import { compromisedHubStep } from "./compromised-hub.ts";
import {
  asGuest,
  ed,
  GUEST,
  type Live,
  need,
  opId,
  settle,
  startAgent,
  until,
} from "./live-agent.ts";
import { selfUpdateStep } from "./self-update.ts";

/**
 * The whole agent as `felhom-agent run` runs it, against the Proxmox simulator and a hub
 * simulator: enrollment, desired state from the hub, the local API for a guest's controller,
 * the signature gate on a destructive hub job, what a compromised hub cannot do unsigned, and
 * the audit log.
 */
export function daemonSteps(): DemoStep[] {
  let live: Live | undefined;
  return [
    {
      title: "Enroll with the hub, then start the daemon (felhom-agent run)",
      async run(env) {
        live = await startAgent(env);
        const id = live.identity;
        env.io.out(
          `    host id ${id.host_id}; operator signers from the hub, accepted by fingerprint (--accept-signers):\n`,
        );
        for (const s of offeredSigners(id.signers)) {
          env.io.out(`      ${s.fingerprint} ${s.role} ${s.name}\n`);
        }
        env.io.out(`    local API ${live.agent.localApi?.server.url}\n`);
        env.io.out(`      pin leaf_sha256 ${live.agent.localApi?.certificate.leafSha256}\n`);
        const l = live;
        await until("guest 103 converged to the hub's desired state", () => {
          const g = env.sim.state.guest(103);
          return g?.config.cores === 3 ? true : undefined;
        });
        env.io.out("    desired state from the hub: guest 103 cores 2 -> 3: converged\n");
        return {
          behaved: l.agent.hub !== undefined && l.agent.localApi !== undefined,
          note: "enrolled, recovered, polling the hub, local API up, desired state converged",
        };
      },
    },
    {
      title: "Snapshot before a deploy through the local API; the deploy fails; roll back",
      async run(env) {
        const l = need(live);
        const snap = await asGuest(l, "POST", "/v1/self/snapshots", { name: "deploy-42" });
        const snapDone = await settle(l, opId(snap.body));
        env.io.out(`    POST /v1/self/snapshots -> ${snap.status}, ${snapDone.state}\n`);
        env.io.out("    (the controller deploys, the new version fails its health check)\n");
        const rb = await asGuest(l, "POST", "/v1/self/snapshots/ctl-deploy-42/rollback");
        const rbDone = rb.status === 202 ? await settle(l, opId(rb.body)) : rb.body;
        env.io.out(
          `    POST /v1/self/snapshots/ctl-deploy-42/rollback -> ${rb.status}, ${rbDone.state}\n`,
        );
        const other = await asGuest(l, "POST", "/v1/self/snapshots/before-upgrade/rollback");
        env.io.out(
          `    POST /v1/self/snapshots/before-upgrade/rollback -> ${other.status} (${String(other.body.error ?? other.body.state ?? "")}): not a snapshot the guest asked the agent for\n`,
        );
        const del = await asGuest(l, "DELETE", "/v1/self/snapshots/ctl-deploy-42");
        const delDone = await settle(l, opId(del.body));
        const g = env.sim.state.guest(GUEST);
        return {
          behaved:
            snapDone.state === "done" &&
            rbDone.state === "done" &&
            other.status === 403 &&
            delDone.state === "done" &&
            g?.running === true &&
            !g.snapshots.has("ctl-deploy-42"),
          note: "own snapshot rolled back and cleaned up; another snapshot's rollback refused",
        };
      },
    },
    {
      title: "An unsigned destructive hub job waits as pending_signature",
      async run(env) {
        const l = need(live);
        l.rollbacksBefore = rollbacksOf(env);
        l.hub.addJob(
          { id: "job-7", op: "guest.rollback", vmid: GUEST, params: { name: "before-upgrade" } },
          l.identity.host_id,
        );
        env.io.out("    hub job job-7: guest.rollback 101 to 'before-upgrade', no signature\n");
        await until("the held job reported", () =>
          l.hub.state.results.find((r) => r.job_id === "job-7" && r.state === "pending_signature"),
        );
        const ran = rollbacksOf(env) - (l.rollbacksBefore ?? 0);
        env.io.out("    reported to the hub: pending_signature; rollback tasks run: 0\n");
        return { behaved: ran === 0, note: "held, visible to the hub, never executed" };
      },
    },
    {
      title: "The operator signs it (SSHSIG, as ssh-keygen -Y sign would); it runs once",
      async run(env) {
        const l = need(live);
        const payload = buildPayload({
          op: "guest.rollback",
          host: l.identity.host_id,
          guest: { vmid: GUEST },
          params: { name: "before-upgrade" },
          job: "job-7",
          now: Math.floor(env.io.clock.now() / 1000),
          ttlSeconds: 600,
        });
        l.hub.signJob("job-7", await signEnvelope(ed, l.operator, payload));
        env.io.out(`    signed by ${l.operator.publicKey.fingerprint} (role operational)\n`);
        await until("the signed job reported ok", () =>
          l.hub.state.results.find((r) => r.job_id === "job-7" && r.state === "ok"),
        );
        const states = l.hub.state.results.filter((r) => r.job_id === "job-7").map((r) => r.state);
        env.io.out(`    results the hub received for job-7: ${states.join(", ")}\n`);
        return {
          behaved:
            rollbacksOf(env) - (l.rollbacksBefore ?? 0) === 1 &&
            states.join() === "pending_signature,ok",
          note: "accepted, executed exactly once, reported exactly once",
        };
      },
    },
    compromisedHubStep(() => live),
    selfUpdateStep(() => live),
    {
      title: "The audit log (what the customer can read), and its hash chain",
      async run(env) {
        const l = need(live);
        const store = openStore({ path: join(l.stateDir, "state.db"), exclusive: false });
        try {
          const rows = store.audit.list({ limit: 1000 });
          for (const r of rows.filter((x) => x.action.startsWith("guest."))) {
            env.io.out(
              `    #${String(r.seq).padEnd(3)} ${r.actor.padEnd(18)} ${r.action.padEnd(22)} ${(r.target ?? "").padEnd(10)} ${r.outcome}\n`,
            );
          }
          const chain = store.audit.verifyChain();
          env.io.out(`    chain: ${chain.ok ? `verified, ${chain.count} rows` : "BROKEN"}\n`);
          const delivered = l.hub.state.audit.length;
          const hubState = l.hub.state;
          env.io.out(
            `    the hub has received ${hubState.reports.length} status reports and ${delivered} audit rows, each checked against the chain it holds (refused: ${hubState.auditRefusals}; reports whose audit head contradicts it: ${hubState.auditHeadMismatches})\n`,
          );
          const secrets = [l.guestToken, l.identity.credential, secretOf(env.sim.tokens.agent)];
          const leaked = secrets.some((s) => l.logs.some((line) => line.includes(s)));
          return {
            behaved:
              chain.ok &&
              !leaked &&
              hubState.reports.length > 0 &&
              hubState.auditRefusals === 0 &&
              hubState.auditHeadMismatches === 0,
            note: "every decision audited, chain verified and delivered, no secret in any log line",
          };
        } finally {
          store.close();
        }
      },
    },
  ];
}

const secretOf = (token: string) => token.slice(token.lastIndexOf("=") + 1);

/** Rollback tasks the simulated host has run on the demo guest, ever. */
function rollbacksOf(env: DemoEnv): number {
  return env.sim.state
    .tasks()
    .filter((t) => t.parts.type === "vzrollback" && t.parts.id === String(GUEST)).length;
}
