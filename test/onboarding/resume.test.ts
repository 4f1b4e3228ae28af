import { afterEach, describe, expect, test } from "bun:test";
import {
  cleanupProvisioning,
  continueAfterRestore,
  provisionGuest,
  restoredWithoutCode,
  resumeProvisioning,
} from "../../src/daemon/provisioning.ts";
import { EnvUnsupportedError } from "../../src/reconcile/env-support.ts";
import { defaultSeed } from "../../src/sim/pve/seed.ts";
import { codeFromGuestEnv, GOLDEN_ARCHIVE, OnboardingRig, redeem } from "./support.ts";

const NET_LOOPBACK = { net0: "name=eth0,bridge=vmbr0,ip=127.0.0.1/8" };

let o: OnboardingRig | undefined;
afterEach(async () => {
  await o?.close();
  o = undefined;
});

/** The restore alone, as a crash right after it leaves things: a guest, no code. */
async function restoreOnly(r: OnboardingRig, vmid: number): Promise<void> {
  const { settled } = await r.rig.engine.enqueue({
    op: "guest.provision",
    vmid,
    params: {
      archive: GOLDEN_ARCHIVE,
      hostname: "resumed",
      storage: "local-lvm",
      unique: true,
      unprivileged: true,
      net: NET_LOOPBACK,
    },
    origin: "operator",
    priority: "interactive",
  });
  expect((await settled).state).toBe("done");
}

describe("a provisioning that stopped half way resumes", () => {
  test("crash after the restore: resume issues a code, writes env, starts; the code redeems", async () => {
    o = await OnboardingRig.start();
    await o.serve();
    await restoreOnly(o, 300);
    expect(o.rig.store.bootstrapCodes.latest(300)).toBeUndefined();
    const out = await resumeProvisioning(o.deps, 300);
    expect(out.step).toBe("started");
    expect(o.rig.sim.state.guest(300)?.running).toBe(true);
    const res = await redeem(o, codeFromGuestEnv(o, 300) as string);
    expect(res.status).toBe(200);
  });

  test("a restore whose continuation a crash lost is found in the journal and continued", async () => {
    o = await OnboardingRig.start();
    await restoreOnly(o, 302);
    const found = restoredWithoutCode(o.rig.store, o.rig.clock.now());
    expect(found.map((f) => f.vmid)).toEqual([302]);
    const f = found[0] as (typeof found)[number];
    const out = await continueAfterRestore(o.deps, f.vmid, f.params, f.journalId);
    expect(out.step).toBe("started");
    expect(out.bootstrap?.journalId).toBe(f.journalId);
    // Continued once: nothing is found again.
    expect(restoredWithoutCode(o.rig.store, o.rig.clock.now())).toEqual([]);
  });

  test("crash between issuing the code and writing it: the held code is gone, a new one replaces it", async () => {
    o = await OnboardingRig.start();
    await restoreOnly(o, 301);
    const lost = o.rig.store.bootstrapCodes.issue({ vmid: 301 });
    // A restart: the engine and its held secrets are new.
    await o.rig.restart();
    const out = await resumeProvisioning(o.deps, 301);
    expect(out.step).toBe("started");
    expect(o.rig.store.bootstrapCodes.byId(lost.record.id)?.step).toBe("revoked");
    expect(codeFromGuestEnv(o, 301)).not.toBe(lost.code);
    expect(o.rig.store.bootstrapCodes.redeem(lost.code)).toBeNull();
  });

  test("started but never redeemed: resume writes a new code and restarts the guest so PID 1 sees it", async () => {
    o = await OnboardingRig.start();
    const first = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "late",
      net: NET_LOOPBACK,
      origin: "operator",
    });
    const oldCode = codeFromGuestEnv(o, first.vmid) as string;
    await o.rig.restart();
    await o.serve();
    const out = await resumeProvisioning(o.deps, first.vmid);
    expect(out.step).toBe("started");
    const g = o.rig.sim.state.guest(first.vmid);
    expect(g?.running).toBe(true);
    // Applied at the start, not left pending.
    expect(g?.pending.env).toBeUndefined();
    const newCode = codeFromGuestEnv(o, first.vmid) as string;
    expect(newCode).not.toBe(oldCode);
    expect((await redeem(o, oldCode)).status).toBe(401);
    expect((await redeem(o, newCode)).status).toBe(200);
  });

  test("redeemed but env left: resume removes env", async () => {
    o = await OnboardingRig.start();
    const first = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "traded",
      net: NET_LOOPBACK,
      origin: "operator",
    });
    // The trade happened, the agent stopped before `delete=env`.
    expect(
      o.rig.store.bootstrapCodes.redeem(codeFromGuestEnv(o, first.vmid) as string),
    ).not.toBeNull();
    expect(o.rig.store.bootstrapCodes.unfinished().map((r) => r.vmid)).toContain(first.vmid);
    const out = await resumeProvisioning(o.deps, first.vmid);
    expect(out.bootstrap?.step).toBe("env_removed");
    expect((await o.rig.client.guestConfig(first.vmid)).raw.env).toBeUndefined();
    expect(o.rig.store.bootstrapCodes.unfinished().map((r) => r.vmid)).not.toContain(first.vmid);
  });

  test("cleanup revokes the code and removes env", async () => {
    o = await OnboardingRig.start();
    const first = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "abandoned",
      net: NET_LOOPBACK,
      origin: "operator",
    });
    const code = codeFromGuestEnv(o, first.vmid) as string;
    const done = await cleanupProvisioning(o.deps, first.vmid);
    expect(done.revoked).toBe(1);
    expect(done.env.state).toBe("done");
    expect(o.rig.store.bootstrapCodes.redeem(code)).toBeNull();
    expect((await o.rig.client.guestConfig(first.vmid)).raw.env).toBeUndefined();
  });
});

describe("Proxmox VE before 9.1", () => {
  const old = () => ({
    seed: { ...defaultSeed(), version: { version: "8.4.14", release: "8.4", repoid: "b0a9f1c2" } },
  });

  test("provisioning is refused up front with a clear error, nothing restored", async () => {
    o = await OnboardingRig.start(old());
    const before = o.rig.sim.state.guests().length;
    const err = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "x",
      origin: "operator",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(EnvUnsupportedError);
    expect(String(err.message)).toContain("8.4 has no container env option");
    expect(o.rig.sim.state.guests().length).toBe(before);
  });

  test("a hub job's guest.provision fails in the executor before anything is restored", async () => {
    o = await OnboardingRig.start(old());
    const before = o.rig.sim.state.guests().length;
    const { settled } = await o.rig.engine.enqueue({
      op: "guest.provision",
      vmid: 303,
      params: { archive: GOLDEN_ARCHIVE, hostname: "x", storage: "local-lvm" },
      origin: "job",
      jobId: "job-old",
      priority: "interactive",
    });
    const s = await settled;
    expect(s.state).toBe("failed");
    expect(String(s.reason)).toContain("pve_without_env");
    expect(o.rig.sim.state.guests().length).toBe(before);
  });

  test("the simulated 8.4 answers env with PVE's 400 naming the property", async () => {
    o = await OnboardingRig.start(old());
    const err = (await o.rig.client.setConfig(100, { env: "A=b" }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { status?: number };
    expect(err.status).toBe(400);
    expect(JSON.stringify(err)).toContain("property is not defined in schema");
  });
});
