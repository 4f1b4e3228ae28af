import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GOLDEN_ARCHIVE, type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock();
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
const CT = "/nodes/pve1/lxc";
const MiB = 1024 * 1024;

beforeAll(async () => {
  sim = await startPveSimulator({ authFailDelayMs: 1, clock, taskMs: 1000 });
  c = simClient(sim);
});

afterAll(async () => {
  c.close();
  await sim.stop();
});

async function waitTask(upid: string): Promise<string> {
  clock.advance(1000);
  const st = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
  return st.body.data.exitstatus;
}

describe("config (docs/proxmox-behaviour.md#sync-and-async-endpoints, docs/proxmox-behaviour.md#units, docs/proxmox-behaviour.md#snapshots-and-descriptions)", () => {
  test("PUT is synchronous and returns null; MiB in config, bytes in status", async () => {
    const r = await c.call("PUT", `${CT}/102/config`, { params: { memory: 1536 } });
    expect(r.body).toEqual({ data: null });
    const conf = (await c.call("GET", `${CT}/102/config`)).body.data;
    expect(conf.memory).toBe(1536);
    expect(conf.digest).toMatch(/^[0-9a-f]{40}$/);
    const st = (await c.call("GET", `${CT}/102/status/current`)).body.data;
    expect(st).toMatchObject({ maxmem: 1536 * MiB, maxswap: 512 * MiB, mem: 0, status: "stopped" });
    expect(st.ha).toEqual({ managed: 0 });
  });

  test("description: a newline is appended to every line, trailing ones collapse", async () => {
    await c.call("PUT", `${CT}/102/config`, { params: { description: "hello" } });
    expect((await c.call("GET", `${CT}/102/config`)).body.data.description).toBe("hello\n");
    await c.call("PUT", `${CT}/102/config`, { params: { description: "a\n\nb\n\n\n" } });
    expect((await c.call("GET", `${CT}/102/config`)).body.data.description).toBe("a\n\nb\n");
    await c.call("PUT", `${CT}/102/config`, { params: { delete: "description" } });
    expect((await c.call("GET", `${CT}/102/config`)).body.data).not.toHaveProperty("description");
  });

  test("digest mismatch is a 500 with the real text", async () => {
    const r = await c.call("PUT", `${CT}/102/config`, {
      params: { cores: 4, digest: "0".repeat(40) },
    });
    expect([r.status, r.statusText]).toEqual([
      500,
      "detected modified configuration - file changed by other user? Try again.",
    ]);
    const digest = (await c.call("GET", `${CT}/102/config`)).body.data.digest;
    const ok = await c.call("PUT", `${CT}/102/config`, { params: { cores: 4, digest } });
    expect(ok.status).toBe(200);
  });

  test("running CT: non-hotplug keys go to pending; current=1 shows applied values", async () => {
    await c.call("PUT", `${CT}/101/config`, { params: { ostype: "ubuntu", cores: 3 } });
    const pendingView = (await c.call("GET", `${CT}/101/config`)).body.data;
    expect(pendingView).toMatchObject({ ostype: "ubuntu", cores: 3 });
    const current = (await c.call("GET", `${CT}/101/config`, { params: { current: 1 } })).body.data;
    expect(current).toMatchObject({ ostype: "debian", cores: 3 });
    const pending = (await c.call("GET", `${CT}/101/pending`)).body.data;
    expect(pending.find((e: { key: string }) => e.key === "ostype")).toEqual({
      key: "ostype",
      value: "debian",
      pending: "ubuntu",
    });
  });

  test("features other than nesting are refused for a token; nesting alone is fine", async () => {
    const r = await c.call("PUT", `${CT}/102/config`, { params: { features: "nesting=1,fuse=1" } });
    expect(r.statusText).toBe(
      "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)",
    );
    const bind = await c.call("PUT", `${CT}/102/config`, { params: { mp0: "/srv/data,mp=/data" } });
    expect(bind.statusText).toBe(
      "Permission check failed (mount point type bind is only allowed for root@pam)",
    );
  });
});

describe("power (docs/proxmox-behaviour.md#locks)", () => {
  test("already running / not running are synchronous; start applies after the task", async () => {
    const again = await c.call("POST", `${CT}/103/status/start`);
    expect([again.status, again.statusText]).toEqual([500, "CT 103 already running"]);
    const notRunning = await c.call("POST", `${CT}/102/status/stop`);
    expect(notRunning.statusText).toBe("CT 102 not running");
    const start = await c.call("POST", `${CT}/102/status/start`);
    expect(sim.state.guest(102)?.running).toBe(false);
    expect(await waitTask(start.body.data)).toBe("OK");
    const st = (await c.call("GET", `${CT}/102/status/current`)).body.data;
    expect(st.status).toBe("running");
    expect(st.mem).toBeGreaterThan(0);
  });
});

describe("resize and destroy (docs/proxmox-behaviour.md#locks)", () => {
  test("grow only; shrink and same size are synchronous errors", async () => {
    const shrink = await c.call("PUT", `${CT}/103/resize`, {
      params: { disk: "rootfs", size: "4G" },
    });
    expect([shrink.status, shrink.statusText]).toEqual([500, "unable to shrink disk size"]);
    const same = await c.call("PUT", `${CT}/103/resize`, {
      params: { disk: "rootfs", size: "8G" },
    });
    expect(same.statusText).toBe("disk is already at specified size");
    const grow = await c.call("PUT", `${CT}/103/resize`, {
      params: { disk: "rootfs", size: "+2G" },
    });
    expect(await waitTask(grow.body.data)).toBe("OK");
    const conf = (await c.call("GET", `${CT}/103/config`)).body.data;
    expect(conf.rootfs).toBe("local-lvm:vm-103-disk-0,size=10G");
  });

  test("destroying a running CT is refused synchronously", async () => {
    const r = await c.call("DELETE", `${CT}/103`);
    expect([r.status, r.statusText]).toEqual([
      500,
      "unable to destroy CT 103 - container is running",
    ]);
  });
});

describe("restore and vzdump (docs/proxmox-behaviour.md#root-only-config-checks, docs/proxmox-behaviour.md#identity-on-restore, docs/proxmox-behaviour.md#vzdump-remove)", () => {
  test("restore keeps keyctl from the archive, unique renews the MAC, hostname wins", async () => {
    const r = await c.call("POST", CT, {
      params: {
        vmid: 300,
        ostemplate: GOLDEN_ARCHIVE,
        restore: 1,
        unique: 1,
        storage: "local-lvm",
        hostname: "fresh",
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toContain(":vzrestore:300:felhom-agent@pve!agent:");
    const during = (await c.call("GET", `${CT}/300/config`)).body.data;
    expect(during.lock).toBe("create");
    expect(await waitTask(r.body.data)).toBe("OK");
    const conf = (await c.call("GET", `${CT}/300/config`)).body.data;
    expect(conf).toMatchObject({ features: "nesting=1,keyctl=1", hostname: "fresh", memory: 2048 });
    expect(conf.lock).toBeUndefined();
    expect(conf.net0).not.toContain("hwaddr=BC:24:11:90:00:00");
    const again = await c.call("POST", CT, {
      params: { vmid: 300, ostemplate: GOLDEN_ARCHIVE, restore: 1, storage: "local-lvm" },
    });
    expect(again.statusText).toBe("CT 300 already exists on node 'pve1'");
  });

  test("passing keyctl on restore is refused for a token", async () => {
    const r = await c.call("POST", CT, {
      params: {
        vmid: 301,
        ostemplate: GOLDEN_ARCHIVE,
        restore: 1,
        storage: "local-lvm",
        unprivileged: 1,
        features: "nesting=1,keyctl=1",
      },
    });
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(
      "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)\n",
    );
    // Without `unprivileged` the check sees a privileged CT, whatever the archive says
    // (docs/proxmox-behaviour.md#lxc-restore-from-archive).
    const unset = await c.call("POST", CT, {
      params: {
        vmid: 301,
        ostemplate: GOLDEN_ARCHIVE,
        restore: 1,
        storage: "local-lvm",
        features: "nesting=1",
      },
    });
    expect(unset.status).toBe(403);
    expect(unset.body.message).toBe(
      "Permission check failed (changing feature flags for privileged container is only allowed for root@pam)\n",
    );
  });

  test("vzdump adds an archive to the storage content when the task ends", async () => {
    const before = (
      await c.call("GET", "/nodes/pve1/storage/local/content", { params: { vmid: 300 } })
    ).body.data;
    expect(before).toEqual([]);
    const r = await c.call("POST", "/nodes/pve1/vzdump", {
      params: { vmid: 300, storage: "local", compress: "zstd", "notes-template": "{{guestname}}" },
    });
    expect(await waitTask(r.body.data)).toBe("OK");
    const after = (
      await c.call("GET", "/nodes/pve1/storage/local/content", { params: { vmid: 300 } })
    ).body.data;
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({
      content: "backup",
      format: "tar.zst",
      notes: "fresh",
      vmid: 300,
    });
    expect(after[0].volid).toMatch(
      /^local:backup\/vzdump-lxc-300-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$/,
    );
  });

  test("cluster resources use 0/1 booleans and include the new CT", async () => {
    const res = (await c.call("GET", "/cluster/resources")).body.data;
    const ct = res.find((e: { id: string }) => e.id === "lxc/300");
    expect(ct).toMatchObject({ type: "lxc", vmid: 300, template: 0, node: "pve1" });
    const storage = res.find((e: { id: string }) => e.id === "storage/pve1/local");
    expect(storage.shared).toBe(0);
  });
});
