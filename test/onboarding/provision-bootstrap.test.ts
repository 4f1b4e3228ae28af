import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BootstrapSecrets } from "../../src/daemon/bootstrap-secrets.ts";
import {
  continueAfterRestore,
  provisionGuest,
  reportedProvisioning,
} from "../../src/daemon/provisioning.ts";
import { statusReportSchema } from "../../src/hub/protocol.ts";
import { EXECUTORS, SecretNotHeldError } from "../../src/reconcile/executors.ts";
import { classifyFailure } from "../../src/reconcile/failure.ts";
import { codeFromGuestEnv, GOLDEN_ARCHIVE, OnboardingRig, redeem } from "./support.ts";

/** The guest's static address is the test's loopback, so the controller's requests come from it. */
const NET_LOOPBACK = { net0: "name=eth0,bridge=vmbr0,ip=127.0.0.1/8" };

let o: OnboardingRig;
beforeAll(async () => {
  o = await OnboardingRig.start();
  await o.serve();
});
afterAll(async () => {
  await o?.close();
});

describe("provisioning and the controller's bootstrap", () => {
  test("provision: vmid from nextid, unprivileged, unique MAC, code in env, started", async () => {
    const out = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "customer-a",
      net: NET_LOOPBACK,
      origin: "operator",
    });
    expect(out.step).toBe("started");
    const g = o.rig.sim.state.guest(out.vmid);
    expect(g?.running).toBe(true);
    expect(g?.config.unprivileged).toBe(1);
    expect(g?.config.hostname).toBe("customer-a");
    // features come from the archive (the token could not set keyctl itself).
    expect(String(g?.config.features)).toContain("keyctl=1");
    expect(out.bootstrap?.step).toBe("started");
    const code = codeFromGuestEnv(o, out.vmid);
    expect(code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Neither the journal, nor the audit log, nor any row holds the code.
    const rows = JSON.stringify([
      o.rig.store.db.query("SELECT * FROM journal").all(),
      o.rig.store.db.query("SELECT * FROM audit").all(),
      o.rig.store.db.query("SELECT * FROM bootstrap_codes").all(),
    ]);
    expect(rows).not.toContain(code as string);
  });

  test("the controller stand-in trades its code once over pinned HTTPS, env goes, the token works", async () => {
    const out = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "customer-b",
      net: NET_LOOPBACK,
      hubCredential: "c2VhbGVkLWZvci10aGUtZ3Vlc3Q=",
      origin: "operator",
    });
    const vmid = out.vmid;
    const code = codeFromGuestEnv(o, vmid) as string;
    const res = await redeem(o, code);
    expect(res.status).toBe(200);
    const grant = (await res.json()) as Record<string, unknown> & {
      token: string;
      pins: { leaf_sha256: string };
    };
    expect(grant.vmid).toBe(vmid);
    expect(grant.guest_uid).toBe(o.rig.store.guestIdentities.current(vmid)?.uid as string);
    expect(grant.hub_credential).toBe("c2VhbGVkLWZvci10aGUtZ3Vlc3Q=");
    expect(grant.pins.leaf_sha256).toBe(o.cert?.leafSha256 as string);
    expect(grant.host_id).toBe("host-test");

    // A second redemption is a bare 401.
    const again = await redeem(o, code);
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({
      error: "unauthorized",
      message: "the bootstrap code was not accepted",
    });

    // env is removed through the engine, and the step recorded.
    const end = Date.now() + 5000;
    while (o.rig.store.bootstrapCodes.latest(vmid)?.step !== "env_removed" && Date.now() < end) {
      await Bun.sleep(20);
    }
    expect(o.rig.store.bootstrapCodes.latest(vmid)?.step).toBe("env_removed");
    // On a running CT the deletion waits as pending until the next start (PVE does the same;
    // the code left in the file is spent); the config as read has no env.
    const g = o.rig.sim.state.guest(vmid);
    expect(g?.config.env === undefined || g?.pendingDelete.has("env")).toBe(true);
    expect((await o.rig.client.guestConfig(vmid)).raw.env).toBeUndefined();

    // The token works: the controller takes its first snapshot.
    const snap = await o.pinnedFetch("/v1/self/snapshots", {
      method: "POST",
      headers: { authorization: `Bearer ${grant.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "first" }),
    });
    expect(snap.status).toBe(202);

    const audit = o.rig.store.db
      .query("SELECT outcome, details FROM audit WHERE action = 'guest.bootstrap'")
      .all() as { outcome: string }[];
    expect(audit.map((r) => r.outcome)).toContain("redeemed");
    expect(audit.map((r) => r.outcome)).toContain("bootstrapped");
    expect(JSON.stringify(audit)).not.toContain(code);
  });

  test("two redemptions racing: one grant, one 401", async () => {
    const out = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "customer-c",
      net: NET_LOOPBACK,
      origin: "operator",
    });
    const code = codeFromGuestEnv(o, out.vmid) as string;
    const [a, b] = await Promise.all([redeem(o, code), redeem(o, code)]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
  });

  test("a code from the wrong address is refused and stays good for the guest", async () => {
    const out = await provisionGuest(o.deps, {
      archive: GOLDEN_ARCHIVE,
      hostname: "customer-d",
      net: { net0: "name=eth0,bridge=vmbr0,ip=192.0.2.10/24" },
      origin: "operator",
    });
    const code = codeFromGuestEnv(o, out.vmid) as string;
    const res = await redeem(o, code);
    expect(res.status).toBe(401);
    expect(o.rig.store.bootstrapCodes.latest(out.vmid)?.step).toBe("started");
    const rows = o.rig.store.db
      .query("SELECT outcome, details FROM audit WHERE action = 'guest.bootstrap'")
      .all() as { outcome: string; details: string }[];
    expect(rows.some((r) => r.outcome === "refused:wrong_source")).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(code);
  });

  test("an unknown code is the same 401", async () => {
    const res = await redeem(o, "A".repeat(32));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: "unauthorized",
      message: "the bootstrap code was not accepted",
    });
  });

  test("a hub job's guest.provision carries the sealed controller credential through to the grant", async () => {
    const params = {
      archive: GOLDEN_ARCHIVE,
      hostname: "customer-job",
      storage: "local-lvm",
      net: NET_LOOPBACK,
      hub_credential: { sealed: "c2VhbGVkLWJ5LXRoZS1odWI=" },
    };
    const { settled } = await o.rig.engine.enqueue({
      op: "guest.provision",
      vmid: 420,
      params,
      origin: "job",
      jobId: "job-onboard",
      priority: "interactive",
    });
    // Sent to Proxmox without the credential (PVE would refuse an unknown parameter).
    expect((await settled).state).toBe("done");
    const out = await continueAfterRestore(o.deps, 420, params, null);
    expect(out.step).toBe("started");
    const res = await redeem(o, codeFromGuestEnv(o, 420) as string);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { hub_credential: string }).hub_credential).toBe(
      "c2VhbGVkLWJ5LXRoZS1odWI=",
    );
  });

  test("guest.config naming a code the agent no longer holds sends nothing and says so", async () => {
    const exec = EXECUTORS["guest.config"];
    let sent = false;
    const client = {
      setConfig: async () => {
        sent = true;
        return null;
      },
    } as never;
    const err = await exec
      .post(client, 420, { bootstrap: "bc-0123456789abcdef" }, undefined, {
        bootstrapEnv: () => undefined,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(SecretNotHeldError);
    expect(sent).toBe(false);
    expect(classifyFailure(err)).toMatchObject({ class: "operator", cause: "secret_not_held" });
  });

  test("a held code is written only into the guest it was issued to", () => {
    const secrets = new BootstrapSecrets();
    secrets.hold("bc-0123456789abcdef", 150, "A".repeat(32));
    expect(secrets.bootstrapEnv("bc-0123456789abcdef", 150)).toBe(
      `FELHOM_BOOTSTRAP=${"A".repeat(32)}`,
    );
    expect(secrets.bootstrapEnv("bc-0123456789abcdef", 151)).toBeUndefined();
    secrets.forget("bc-0123456789abcdef");
    expect(secrets.bootstrapEnv("bc-0123456789abcdef", 150)).toBeUndefined();
  });

  test("unfinished provisionings go into the status report without a code, valid for the hub", () => {
    const rows = reportedProvisioning(o.rig.store.bootstrapCodes.unfinished());
    // customer-a, -c (one of the racers won, env removal may still run), -d, the job's guest.
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) expect(r.step).not.toBe("env_removed");
    const parsed = statusReportSchema.shape.provisioning.parse(rows);
    expect(parsed).toEqual(rows);
    expect(JSON.stringify(rows)).not.toMatch(/FELHOM_BOOTSTRAP/);
  });

  test("MACs are unique across provisioned guests", () => {
    const macs = o.rig.sim.state
      .guests()
      .filter((g) => String(g.config.hostname ?? "").startsWith("customer-"))
      .map((g) => /hwaddr=([0-9A-Fa-f:]+)/.exec(String(g.config.net0))?.[1]);
    expect(macs.length).toBeGreaterThanOrEqual(4);
    expect(new Set(macs).size).toBe(macs.length);
    expect(macs).not.toContain("BC:24:11:90:00:00");
  });
});
