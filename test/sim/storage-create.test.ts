import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type PveSimulator, SimHostFs, startPveSimulator } from "../../src/sim/pve/index.ts";
import { simClient } from "./sim-client.ts";

const UUID = "2f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3";
const FP = Array.from({ length: 32 }, () => "0A").join(":");
let sim: PveSimulator;
let fs: SimHostFs;
let c: ReturnType<typeof simClient>;

beforeAll(async () => {
  fs = new SimHostFs();
  sim = await startPveSimulator({ hostFs: fs, authFailDelayMs: 0 });
  c = simClient(sim);
});
afterAll(async () => {
  c.close();
  await sim.stop();
});

const usb = {
  storage: "usb1",
  type: "dir",
  path: "/mnt/felhom/usb1",
  content: "backup",
  is_mountpoint: "yes",
  "create-base-path": 0,
};

describe("POST/DELETE /storage in the simulator", () => {
  test("Datastore.Allocate on /storage is checked before anything else", async () => {
    const r = await c.call("POST", "/storage", { params: usb, token: sim.tokens.noacl });
    expect(r.status).toBe(403);
    expect(r.statusText).toBe("Permission check failed (/storage, Datastore.Allocate)");
    const d = await c.call("DELETE", "/storage/local", { token: sim.tokens.noacl });
    expect(d.status).toBe(403);
  });

  test("an is_mountpoint dir that is not mounted fails the create with PVE's text; mounted, it is created and active", async () => {
    const r = await c.call("POST", "/storage", { params: usb });
    expect(r.status).toBe(500);
    expect(r.body.message).toBe(
      "create storage failed: unable to activate storage 'usb1' - directory is expected to be a mount point but is not mounted: '/mnt/felhom/usb1'\n",
    );
    expect(sim.state.storage("usb1")).toBeUndefined();
    fs.plug(UUID);
    await fs.runner().run("/usr/bin/mount", ["-o", "nosuid", `UUID=${UUID}`, "/mnt/felhom/usb1"]);
    const ok = await c.call("POST", "/storage", { params: usb });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual({ storage: "usb1", type: "dir" });
    const again = await c.call("POST", "/storage", { params: usb });
    expect(again.body.message).toBe("create storage failed: storage ID 'usb1' already defined\n");
    const status = await c.call("GET", `/nodes/${sim.node}/storage`, {
      params: { storage: "usb1" },
    });
    expect(status.body.data[0]).toMatchObject({ active: 1, enabled: 1 });
    fs.unplug(UUID);
    const gone = await c.call("GET", `/nodes/${sim.node}/storage`, { params: { storage: "usb1" } });
    expect(gone.body.data[0]).toMatchObject({ active: 0, total: 0, used: 0, avail: 0 });
  });

  test("PBS encryption-key=autogen answers the key once; storage.cfg keeps only its fingerprint", async () => {
    const params = {
      storage: "pbs1",
      type: "pbs",
      server: "pbs.example.net",
      datastore: "store1",
      username: "felhom@pbs",
      password: "x",
      fingerprint: FP,
      "encryption-key": "autogen",
    };
    const { "encryption-key": _autogen, ...withoutKey } = params;
    const noKey = await c.call("POST", "/storage", {
      params: { ...withoutKey, storage: "pbs0", "master-pubkey": "QUJD" },
    });
    expect(noKey.status).toBe(500);
    expect(noKey.body.message).toBe(
      "create storage failed: 'master-pubkey' can only be used together with 'encryption-key'\n",
    );
    const r = await c.call("POST", "/storage", { params });
    expect(r.status).toBe(200);
    const key = JSON.parse(r.body.data.config["encryption-key"]);
    expect(typeof key.data).toBe("string");
    const cfg = await c.call("GET", "/storage", { params: { type: "pbs" } });
    const entry = cfg.body.data.find((e: { storage: string }) => e.storage === "pbs1");
    expect(entry["encryption-key"]).toBe(key.fingerprint);
    expect(JSON.stringify(cfg.body)).not.toContain(key.data);
    expect(JSON.stringify(cfg.body)).not.toContain('"password"');
  });

  test("an NFS server taken offline at run time: create fails 'not online', status inactive", async () => {
    fs.setServerOnline("nas.lan", false);
    const params = {
      storage: "nas1",
      type: "nfs",
      server: "nas.lan",
      export: "/srv/backup",
      content: "backup",
    };
    const r = await c.call("POST", "/storage", { params });
    expect(r.body.message).toBe("create storage failed: storage 'nas1' is not online\n");
    fs.setServerOnline("nas.lan", true);
    expect((await c.call("POST", "/storage", { params })).status).toBe(200);
    fs.setServerOnline("nas.lan", false);
    const st = await c.call("GET", `/nodes/${sim.node}/storage`, { params: { storage: "nas1" } });
    expect(st.body.data[0].active).toBe(0);
    fs.setServerOnline("nas.lan", true);
  });

  test("DELETE removes the definition only; a missing id is PVE's error", async () => {
    const r = await c.call("DELETE", "/storage/nas1");
    expect(r.status).toBe(200);
    expect(sim.state.storage("nas1")).toBeUndefined();
    const missing = await c.call("DELETE", "/storage/nas1");
    expect(missing.status).toBe(500);
    expect(missing.body.message).toBe("delete storage failed: storage 'nas1' does not exist\n");
  });
});

describe("the control endpoint switches the simulated host at run time", () => {
  test("POST /v1/host pulls a disk and takes a server offline; GET shows the fstab", async () => {
    const { startSimControl } = await import("../../src/sim/control/server.ts");
    const control = startSimControl(sim, { hostname: "127.0.0.1", port: 0 });
    try {
      const post = (body: unknown) =>
        fetch(`${control.url}/v1/host`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      fs.plug(UUID);
      await fs.runner().run("/usr/bin/mount", ["-o", "x", `UUID=${UUID}`, "/mnt/felhom/usb9"]);
      const r = await post({ unplug: [UUID], offline: ["nas9.lan"] });
      expect(r.status).toBe(200);
      expect(fs.isPlugged(UUID)).toBe(false);
      expect(fs.mountedAt("/mnt/felhom/usb9")).toBeUndefined();
      expect(fs.serverOnline("nas9.lan")).toBe(false);
      expect((await post({ online: ["nas9.lan"], plug: [UUID] })).status).toBe(200);
      expect(fs.serverOnline("nas9.lan")).toBe(true);
      expect((await post({ unplug: ["-rf"] })).status).toBe(400);
      const view = (await (await fetch(`${control.url}/v1/host`)).json()) as { fstab: string[] };
      expect(Array.isArray(view.fstab)).toBe(true);
    } finally {
      await control.stop();
    }
  });
});
