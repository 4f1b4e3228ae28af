import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { defaultSeed, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

let sim: PveSimulator;
let c: ReturnType<typeof simClient>;

beforeAll(async () => {
  const seed = defaultSeed();
  // A privsep token whose role lacks VM.Snapshot, and a user missing VM.Config.Disk while its
  // token has it: the effective set is the intersection (docs/proxmox-behaviour.md#api-tokens).
  seed.access.users.push({ userid: "limited@pve" });
  seed.access.roles.NoSnap = ["VM.Audit", "VM.PowerMgmt", "VM.Config.Disk", "Sys.Audit"];
  seed.access.roles.UserPart = ["VM.Audit", "VM.Snapshot", "Sys.Audit"];
  seed.access.tokens.push({ key: "limited", userid: "limited@pve", tokenid: "t1", privsep: true });
  seed.access.acl.push(
    { path: "/", ugid: "limited@pve", roleid: "UserPart", propagate: true },
    { path: "/vms", ugid: "limited@pve!t1", roleid: "NoSnap", propagate: true },
  );
  sim = await startPveSimulator({ seed, authFailDelayMs: 1, clock: new ManualClock() });
  c = simClient(sim);
});

afterAll(async () => {
  c.close();
  await sim.stop();
});

describe("envelope and errors (docs/proxmox-behaviour.md#api-envelope-and-errors)", () => {
  test("success is {data} with JSON content type", async () => {
    const r = await c.call("GET", "/version");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      data: { version: "9.1.4", release: "9.1", repoid: expect.any(String) },
    });
  });

  test("401 No ticket without credentials: empty body", async () => {
    const r = await c.call("GET", "/nodes", { token: null });
    expect([r.status, r.statusText, r.text]).toEqual([401, "No ticket", ""]);
  });

  test("401 Authentication failed! for a wrong secret or unknown token", async () => {
    const wrong = await c.call("GET", "/nodes", { token: "felhom-agent@pve!agent=nope" });
    expect([wrong.status, wrong.statusText, wrong.text]).toEqual([
      401,
      "Authentication failed!",
      "",
    ]);
    const unknown = await c.call("GET", "/nodes", { token: "x@pve!y=z" });
    expect(unknown.statusText).toBe("Authentication failed!");
  });

  test("the token value splits at the last '=' and a space form is accepted", async () => {
    const res = await fetch(`${sim.endpoint}/api2/json/version`, {
      headers: { authorization: `PVEAPIToken ${sim.tokens.agent}` },
      tls: { ca: sim.certPem },
    });
    expect(res.status).toBe(200);
  });

  test("501 for an unknown route, message with the method and the relative path", async () => {
    const r = await c.call("GET", "/nodes/pve1/qemu-nope");
    expect(r.status).toBe(501);
    expect(r.statusText).toBe("Method 'GET /nodes/pve1/qemu-nope' not implemented");
    expect(r.body).toEqual({
      data: null,
      message: "Method 'GET /nodes/pve1/qemu-nope' not implemented\n",
    });
  });

  test("500 for a missing CT with the load_config text; no 404", async () => {
    const r = await c.call("GET", "/nodes/pve1/lxc/999/status/current");
    expect(r.status).toBe(500);
    expect(r.statusText).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
    expect(r.body.message).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n");
  });

  test("unknown node: 500 hostname lookup (docs/proxmox-behaviour.md#unknown-node-and-nextid)", async () => {
    const r = await c.call("GET", "/nodes/nope/lxc");
    expect(r.status).toBe(500);
    expect(r.statusText.startsWith("hostname lookup 'nope' failed - ")).toBe(true);
  });

  test("400 Parameter verification failed. with per-parameter errors", async () => {
    const r = await c.call("PUT", "/nodes/pve1/lxc/102/config", { params: { cores: "abc" } });
    expect(r.status).toBe(400);
    expect(r.statusText).toBe("Parameter verification failed.");
    expect(r.body.errors).toEqual({ cores: "type check ('integer') failed - got 'abc'" });
    expect(r.body.message).toBe("Parameter verification failed.\n");
  });

  test("token on an allowtoken:0 endpoint: 403 cut at the embedded newline", async () => {
    const r = await c.call("POST", "/access/ticket");
    expect(r.status).toBe(403);
    expect(r.statusText).toBe(
      "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.",
    );
    expect(r.body.message).toBe(
      "Permission check failed (URI '/access/ticket' not available with API token, need proper ticket.\n)\n",
    );
  });

  test("a method the path does not serve is 501", async () => {
    const res = await fetch(`${sim.endpoint}/api2/json/version`, {
      method: "POST",
      headers: { authorization: `PVEAPIToken=${sim.tokens.agent}` },
      tls: { ca: sim.certPem },
    });
    expect(res.status).toBe(501);
  });

  test("nextid is a JSON string; a taken vmid is a 400 on vmid (docs/proxmox-behaviour.md#json-type-quirks, docs/proxmox-behaviour.md#unknown-node-and-nextid)", async () => {
    expect((await c.call("GET", "/cluster/nextid")).body).toEqual({ data: "100" });
    const taken = await c.call("GET", "/cluster/nextid", { params: { vmid: 101 } });
    expect(taken.status).toBe(400);
    expect(taken.body.errors).toEqual({ vmid: "VM 101 already exists" });
  });
});

describe("permissions (docs/proxmox-behaviour.md#api-envelope-and-errors, docs/proxmox-behaviour.md#api-tokens)", () => {
  test("check(): first missing privilege", async () => {
    const r = await c.call("GET", "/nodes/pve1/lxc/101/config", { token: sim.tokens.noacl });
    expect(r.status).toBe(403);
    expect(r.statusText).toBe("Permission check failed (/vms/101, VM.Audit)");
    expect(r.body.message).toBe("Permission check failed (/vms/101, VM.Audit)\n");
  });

  test("check_any(): all alternatives joined with |", async () => {
    const r = await c.call("PUT", "/nodes/pve1/lxc/101/config", {
      token: sim.tokens.noacl,
      params: { cores: 2 },
    });
    expect(r.statusText).toBe(
      "Permission check failed (/vms/101, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options)",
    );
  });

  test("a privsep token without ACLs sees empty lists, not 403", async () => {
    const opts = { token: sim.tokens.noacl };
    expect((await c.call("GET", "/nodes/pve1/lxc", opts)).body).toEqual({ data: [] });
    expect((await c.call("GET", "/cluster/resources", opts)).body).toEqual({ data: [] });
    expect((await c.call("GET", "/storage", opts)).body).toEqual({ data: [] });
    expect((await c.call("GET", "/nodes/pve1/storage", opts)).body).toEqual({ data: [] });
  });

  test("the agent token sees every CT and storage", async () => {
    const lxc = await c.call("GET", "/nodes/pve1/lxc");
    expect(lxc.body.data.map((e: { vmid: number }) => e.vmid).sort()).toEqual([101, 102, 103]);
    const storage = await c.call("GET", "/storage");
    expect(storage.body.data.map((e: { storage: string }) => e.storage)).toEqual([
      "local",
      "local-lvm",
    ]);
  });

  test("privsep intersection: token lacks VM.Snapshot → 403 naming it", async () => {
    const limited = sim.tokens.all.limited as string;
    const r = await c.call("POST", "/nodes/pve1/lxc/101/snapshot", {
      token: limited,
      params: { snapname: "x" },
    });
    expect(r.statusText).toBe("Permission check failed (/vms/101, VM.Snapshot)");
  });

  test("privsep intersection: token has VM.Config.Disk but its user does not", async () => {
    const limited = sim.tokens.all.limited as string;
    const r = await c.call("PUT", "/nodes/pve1/lxc/101/resize", {
      token: limited,
      params: { disk: "rootfs", size: "+1G" },
    });
    expect(r.statusText).toBe("Permission check failed (/vms/101, VM.Config.Disk)");
    const perms = await c.call("GET", "/access/permissions", {
      token: limited,
      params: { path: "/vms/101" },
    });
    expect(perms.body.data).toEqual({ "/vms/101": { "Sys.Audit": 1, "VM.Audit": 1 } });
  });

  test("/access/permissions: the agent token holds the 16 FelhomAgent privileges on /", async () => {
    const r = await c.call("GET", "/access/permissions");
    expect(Object.keys(r.body.data["/"]).length).toBe(16);
    const none = await c.call("GET", "/access/permissions", { token: sim.tokens.noacl });
    expect(none.body.data).toEqual({});
  });

  test("GET /nodes carries the simulator's own leaf fingerprint", async () => {
    const r = await c.call("GET", "/nodes");
    expect(r.body.data[0].ssl_fingerprint).toBe(sim.fingerprint);
    expect(sim.fingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
  });
});
