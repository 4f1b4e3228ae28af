/**
 * Restore keeps the archive's `unprivileged` and `features`, and refuses for a token what only
 * root@pam may do (docs/proxmox-behaviour.md#lxc-restore-from-archive).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  DEBIAN_TEMPLATE,
  defaultSeed,
  GOLDEN_ARCHIVE,
  type PveSimulator,
  startPveSimulator,
} from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock();
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
const CT = "/nodes/pve1/lxc";

const PRIVILEGED = "local:backup/vzdump-lxc-9100-2026_01_15-10_00_00.tar.zst";
const BIND_MP = "local:backup/vzdump-lxc-9101-2026_01_15-10_00_00.tar.zst";
const DEVICE_MP = "local:backup/vzdump-lxc-9102-2026_01_15-10_00_00.tar.zst";
const VOLUME_MP = "local:backup/vzdump-lxc-9103-2026_01_15-10_00_00.tar.zst";

const base = {
  arch: "amd64",
  hostname: "archived",
  memory: 1024,
  net0: "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:91:00:00,ip=dhcp,type=veth",
  ostype: "debian",
  rootfs: "local-lvm:vm-9100-disk-0,size=8G",
  swap: 512,
};

beforeAll(async () => {
  const seed = defaultSeed();
  const local = seed.storages.find((s) => s.storage === "local");
  const archive = (volid: string, vmid: number, config: Record<string, string | number>) => ({
    volid,
    content: "backup" as const,
    format: "tar.zst",
    size: 100_000_000,
    ctime: 1768471200,
    vmid,
    config,
  });
  local?.volumes?.push(
    // No `unprivileged: 1`: a privileged CT, with a feature a token may not set.
    archive(PRIVILEGED, 9100, { ...base, features: "nesting=1,mount=nfs" }),
    archive(BIND_MP, 9101, { ...base, unprivileged: 1, mp0: "/srv/shared,mp=/shared" }),
    archive(DEVICE_MP, 9102, { ...base, unprivileged: 1, mp0: "/dev/sdb1,mp=/disk" }),
    archive(VOLUME_MP, 9103, {
      ...base,
      unprivileged: 1,
      mp0: "local-lvm:vm-9103-disk-1,mp=/srv,backup=1,size=2G",
    }),
  );
  sim = await startPveSimulator({ seed, authFailDelayMs: 1, clock, taskMs: 1000 });
  c = simClient(sim);
});

afterAll(async () => {
  c.close();
  await sim.stop();
});

async function finish(upid: string): Promise<{ exitstatus: string; lines: string[] }> {
  clock.advance(1000);
  const st = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
  const log = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
  return {
    exitstatus: st.body.data.exitstatus,
    lines: (log.body.data as Array<{ t: string }>).map((l) => l.t),
  };
}

async function restore(
  vmid: number,
  ostemplate: string,
  extra: Record<string, string | number> = {},
  token?: string,
) {
  const r = await c.call("POST", CT, {
    params: { vmid, ostemplate, restore: 1, storage: "local-lvm", ...extra },
    ...(token === undefined ? {} : { token }),
  });
  expect(r.status).toBe(200);
  return finish(r.body.data as string);
}

describe("restore keeps what the archive says", () => {
  test("an unprivileged archive stays unprivileged, with its features", async () => {
    const r = await restore(400, GOLDEN_ARCHIVE);
    expect(r.exitstatus).toBe("OK");
    expect(r.lines).toEqual([
      `recovering backed-up configuration from '${GOLDEN_ARCHIVE}'`,
      `restoring '${GOLDEN_ARCHIVE}' now..`,
      "merging backed-up and given configuration..",
      "TASK OK",
    ]);
    const conf = (await c.call("GET", `${CT}/400/config`)).body.data;
    expect(conf).toMatchObject({ unprivileged: 1, features: "nesting=1,keyctl=1" });
  });

  test("a privileged archive needs Sys.Modify: the token's restore fails and leaves nothing", async () => {
    const r = await restore(401, PRIVILEGED);
    expect(r.exitstatus).toBe("unable to restore CT 401 - Permission check failed (/, Sys.Modify)");
    expect(sim.state.guest(401)).toBeUndefined();
  });

  test("with Sys.Modify the privileged archive restores privileged, its features kept", async () => {
    const r = await restore(402, PRIVILEGED, {}, sim.tokens.root);
    expect(r.exitstatus).toBe("OK");
    const conf = (await c.call("GET", `${CT}/402/config`)).body.data;
    expect(conf.unprivileged).toBeUndefined();
    expect(conf.features).toBe("nesting=1,mount=nfs");
  });

  test("asking for privileged on an unprivileged archive needs Sys.Modify too", async () => {
    const r = await restore(403, GOLDEN_ARCHIVE, { unprivileged: 0 });
    expect(r.exitstatus).toBe("unable to restore CT 403 - Permission check failed (/, Sys.Modify)");
    expect(sim.state.guest(403)).toBeUndefined();
  });

  test("over an existing unprivileged CT, a privileged archive fails and the CT stays as it was", async () => {
    const before = structuredClone(sim.state.guest(102)?.config);
    const r = await restore(102, PRIVILEGED, { force: 1 });
    expect(r.exitstatus).toBe("unable to restore CT 102 - Permission check failed (/, Sys.Modify)");
    expect(sim.state.guest(102)?.config).toEqual(before as Record<string, string | number>);
    expect(sim.state.guest(102)?.config.lock).toBeUndefined();
  });
});

describe("mount points from the archive", () => {
  test("a bind mount point is root@pam's: the token's restore fails", async () => {
    const r = await restore(410, BIND_MP);
    expect(r.exitstatus).toBe(
      "unable to restore CT 410 - restoring 'mp0' to bind mount is only possible for root",
    );
    expect(sim.state.guest(410)).toBeUndefined();
  });

  test("a root@pam token is not root@pam: the same refusal", async () => {
    const r = await restore(411, BIND_MP, {}, sim.tokens.root);
    expect(r.exitstatus).toBe(
      "unable to restore CT 411 - restoring 'mp0' to bind mount is only possible for root",
    );
  });

  test("a device mount point is refused the same way", async () => {
    const r = await restore(412, DEVICE_MP);
    expect(r.exitstatus).toBe(
      "unable to restore CT 412 - restoring 'mp0' to device mount is only possible for root",
    );
  });

  test("passing rootfs ignores the archive's mount points", async () => {
    const r = await restore(413, BIND_MP, { rootfs: "local-lvm:4" });
    expect(r.exitstatus).toBe("OK");
    const conf = (await c.call("GET", `${CT}/413/config`)).body.data;
    expect(conf.mp0).toBeUndefined();
    expect(conf.rootfs).toBe("local-lvm:vm-413-disk-0,size=4G");
  });

  test("a volume mount point is recreated on the target storage at its size", async () => {
    const r = await restore(414, VOLUME_MP);
    expect(r.exitstatus).toBe("OK");
    const conf = (await c.call("GET", `${CT}/414/config`)).body.data;
    expect(conf.mp0).toBe("local-lvm:vm-414-disk-1,mp=/srv,backup=1,size=2G");
    expect(sim.state.storage("local-lvm")?.volumes.get("local-lvm:vm-414-disk-1")?.size).toBe(
      2 * 1024 ** 3,
    );
  });
});

describe("create from a template", () => {
  test("unprivileged unless told otherwise; privileged needs Sys.Modify", async () => {
    const r = await c.call("POST", CT, {
      params: { vmid: 420, ostemplate: DEBIAN_TEMPLATE, storage: "local-lvm" },
    });
    expect(r.status).toBe(200);
    expect((await finish(r.body.data)).exitstatus).toBe("OK");
    expect((await c.call("GET", `${CT}/420/config`)).body.data.unprivileged).toBe(1);
    const privileged = await c.call("POST", CT, {
      params: { vmid: 421, ostemplate: DEBIAN_TEMPLATE, storage: "local-lvm", unprivileged: 0 },
    });
    expect([privileged.status, privileged.statusText]).toEqual([
      403,
      "Permission check failed (/, Sys.Modify)",
    ]);
  });
});
