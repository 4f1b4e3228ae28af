import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEd25519 } from "../../src/authz/ed25519.ts";
import type { GuestRef } from "../../src/authz/envelope.ts";
import type { OpName } from "../../src/authz/operations.ts";
import { buildPayload, signEnvelope } from "../../src/authz/sign.ts";
import { runDaemon } from "../../src/cli/run.ts";
import type { AgentReady } from "../../src/daemon/agent-daemon.ts";
import type { HubIdentity } from "../../src/hub/identity.ts";
import type { HubSimulator } from "../../src/sim/hub/index.ts";
import { GOLDEN_ARCHIVE, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { openStore } from "../../src/store/open.ts";
import { freeLoopbackPort } from "../../src/util/free-port.ts";
import { keyFromSeed } from "../authz/support.ts";
import { enrollIn } from "../hub/link-harness.ts";
import {
  fastSimClient,
  hubDaemonConfig,
  pinnedTls,
  pollUntil,
  startHubWithOperator,
} from "./support.ts";

/**
 * A hub that tries to reach customer data without an operator's signature, against the whole
 * daemon with the Proxmox and hub simulators: copying a customer's backup into a new guest,
 * an absurd grow, a token and a signature outliving the guest they were for, an envelope
 * carried by another job. Each is held or refused, and nothing reaches Proxmox.
 */

const ed = createEd25519();
const operator = await keyFromSeed(41, "operator@example");
const dir = mkdtempSync(join(tmpdir(), "felhom-unsigned-"));
const stateDir = join(dir, "state");
let pve: PveSimulator;
let hub: HubSimulator;
let identity: HubIdentity;
const until = pollUntil(400);

beforeAll(async () => {
  pve = await startPveSimulator({ taskMs: 30, authFailDelayMs: 0 });
  hub = await startHubWithOperator(operator);
  identity = await enrollIn(hub, stateDir);
});

afterAll(async () => {
  await hub?.stop();
  await pve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads the daemon's store next to it, as `token mint` does. */
function withStore<T>(fn: (s: ReturnType<typeof openStore>) => T): T {
  const store = openStore({ path: join(stateDir, "state.db"), exclusive: false });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

test("unsigned paths to customer data are held or refused, end to end", async () => {
  const port = await freeLoopbackPort();
  const configPath = join(dir, "agent.json");
  writeFileSync(
    configPath,
    JSON.stringify(hubDaemonConfig({ pve, stateDir, port, logLevel: "warn" })),
  );
  hub.setDesired({ version: 1, guests: {}, backup_storage: "local" }, identity.host_id);

  const stop = new AbortController();
  let ready: AgentReady | undefined;
  const exit = runDaemon(
    ["run"],
    { configPath, env: {}, stdout: () => {}, stderr: () => {} },
    {
      signal: stop.signal,
      makeClient: () => fastSimClient(pve),
      onReady: (r) => {
        ready = r;
      },
    },
  );

  const resultOf = (jobId: string, state: string) =>
    until(`${jobId} reported ${state}`, () =>
      hub.state.results.find((r) => r.job_id === jobId && r.state === state),
    );
  const job = (id: string, op: OpName, vmid: number | undefined, params: Record<string, unknown>) =>
    hub.addJob({ id, op, ...(vmid === undefined ? {} : { vmid }), params }, identity.host_id);
  const signed = async (
    id: string,
    op: OpName,
    guest: GuestRef | undefined,
    params: Record<string, unknown>,
    signedJob = id,
  ) => {
    const payload = buildPayload({
      op,
      host: identity.host_id,
      ...(guest ? { guest } : {}),
      params,
      job: signedJob,
      now: Math.floor(Date.now() / 1000),
      ttlSeconds: 300,
    });
    hub.addJob(
      {
        id,
        op,
        ...(guest ? { vmid: guest.vmid } : {}),
        params,
        envelope: await signEnvelope(ed, operator, payload),
      },
      identity.host_id,
    );
  };
  const restores = (vmid: number) =>
    pve.state.tasks().filter((t) => t.parts.type === "vzrestore" && t.parts.id === String(vmid));

  try {
    const agent = await until("the daemon to be ready", () => ready);
    const local = agent.localApi;
    const self = async (token: string) =>
      (
        await fetch(`${local?.server.url}/v1/self`, {
          headers: { authorization: `Bearer ${token}` },
          tls: pinnedTls(local),
        })
      ).status;

    // A customer's backup copied into a new guest: held, nothing restored.
    job("job-backup", "guest.backup", 101, { storage: "local" });
    const backup = await resultOf("job-backup", "ok");
    const customerArchive = String((backup.result as { archive?: string }).archive);
    expect(customerArchive).toMatch(/^local:backup\/vzdump-lxc-101-/);
    job("job-copy", "guest.provision", 151, { archive: customerArchive, storage: "local-lvm" });
    const copy = await resultOf("job-copy", "pending_signature");
    expect(copy.reason).toContain("golden image");
    // The golden archive too, until an operator registers it.
    job("job-early", "guest.provision", 150, { archive: GOLDEN_ARCHIVE, storage: "local-lvm" });
    await resultOf("job-early", "pending_signature");
    expect(restores(151)).toHaveLength(0);
    expect(restores(150)).toHaveLength(0);

    // Registered by a signed host-level operation, the golden image provisions unsigned.
    await signed("job-golden", "golden.register", undefined, { volid: GOLDEN_ARCHIVE });
    await resultOf("job-golden", "ok");
    const provision = { archive: GOLDEN_ARCHIVE, storage: "local-lvm", hostname: "new-a" };
    job("job-p1", "guest.provision", 150, provision);
    await resultOf("job-p1", "ok");
    expect(pve.state.guest(150)?.config.unprivileged).toBe(1);
    // The daemon carries the provisioning on: a bootstrap code in env, then the guest starts.
    await until("guest 150 started with its bootstrap code", () => {
      const g = pve.state.guest(150);
      return g?.running === true && String(g.config.env).startsWith("FELHOM_BOOTSTRAP=");
    });

    // An absurd grow is held; a modest one runs.
    job("job-huge", "guest.resize", 101, { disk: "rootfs", size: "+999999999999T" });
    const huge = await resultOf("job-huge", "pending_signature");
    expect(huge.reason).toContain("64 GiB");
    job("job-small", "guest.resize", 101, { disk: "rootfs", size: "+1G" });
    await resultOf("job-small", "ok");
    const resizes = pve.state.tasks().filter((t) => t.parts.type === "resize");
    expect(resizes).toHaveLength(1);

    // The new guest's controller gets a token for this guest's identity.
    const { token, uid1 } = withStore((s) => {
      const minted = s.guestTokens.mint(150);
      return { token: minted.token, uid1: minted.guestUid };
    });
    expect(await self(token)).toBe(200);

    // Destroyed with a signature bound to its identity: the token dies with the guest.
    // It runs now, and PVE destroys a running CT only when forced.
    await signed("job-d1", "guest.destroy", { vmid: 150, uid: uid1 }, { force: true });
    await resultOf("job-d1", "ok");
    expect(pve.state.guest(150)).toBeUndefined();
    expect(await self(token)).toBe(401);

    // A new customer's guest at the same vmid: a new identity; the old token stays dead,
    // and a signature made for the old guest does not destroy the new one.
    job("job-p2", "guest.provision", 150, { ...provision, hostname: "new-b" });
    await resultOf("job-p2", "ok");
    const uid2 = withStore((s) => s.guestIdentities.current(150)?.uid);
    expect(uid2).toBeDefined();
    expect(uid2).not.toBe(uid1);
    expect(await self(token)).toBe(401);
    await signed("job-d2", "guest.destroy", { vmid: 150, uid: uid1 }, {});
    const stale = await resultOf("job-d2", "rejected");
    expect(stale.reason).toBe("binding_mismatch");

    // An envelope signed for one job, carried by another.
    await signed("job-d3", "guest.destroy", { vmid: 150, uid: uid2 as string }, {}, "job-other");
    const carried = await resultOf("job-d3", "rejected");
    expect(carried.reason).toBe("binding_mismatch");
    expect(pve.state.guest(150)).toBeDefined();
  } finally {
    stop.abort();
  }
  expect(await exit).toBe(0);

  withStore((s) => {
    expect(s.audit.verifyChain().ok).toBe(true);
    expect(s.goldenImages.byVolid(GOLDEN_ARCHIVE)).toMatchObject({ source: "registered" });
  });
}, 60_000);
