/**
 * The simulator's prune dry run and prune (docs/proxmox-behaviour.md#backup-retention-marks), the
 * deletion of one backup (docs/proxmox-behaviour.md#deleting-a-backup-volume), vzdump's fall
 * back from snapshot to suspend mode, and a target that fills up during the archive.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock(Date.UTC(2026, 5, 10, 12, 0, 0));
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
const DAY_S = 86_400;

beforeAll(async () => {
  sim = await startPveSimulator({ authFailDelayMs: 1, clock, taskMs: 1000 });
  c = simClient(sim);
  const local = sim.state.storage("local");
  const now = Math.floor(clock.now() / 1000);
  for (const [i, days] of [1, 2, 3, 4].entries()) {
    const volid = `local:backup/vzdump-lxc-103-2026_06_0${9 - days}-12_00_00.tar.zst`;
    local?.volumes.set(volid, {
      volid,
      content: "backup",
      format: "tar.zst",
      size: 1000,
      ctime: now - days * DAY_S,
      vmid: 103,
      ...(i === 3 ? { protected: true } : {}),
    });
  }
  const renamed = "local:backup/vzdump-lxc-103-golden.tar.zst";
  local?.volumes.set(renamed, {
    volid: renamed,
    content: "backup",
    format: "tar.zst",
    size: 1000,
    ctime: now - 100 * DAY_S,
    vmid: 103,
  });
});
afterAll(async () => {
  c.close();
  await sim.stop();
});

async function task(upid: string) {
  clock.advance(1000);
  const st = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
  const log = await c.call("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`, {
    params: { limit: 500 },
  });
  return {
    exitstatus: st.body.data.exitstatus as string,
    lines: (log.body.data as Array<{ t: string }>).map((l) => l.t),
  };
}

test("dry run: PVE's marks (keep, remove, protected, renamed), nothing changes", async () => {
  const r = await c.call("GET", "/nodes/pve1/storage/local/prunebackups", {
    params: { vmid: 103, type: "lxc", "prune-backups": "keep-last=2" },
  });
  expect(r.status).toBe(200);
  const marks = (r.body.data as { volid: string; mark: string }[]).map((m) => [
    m.volid.slice(m.volid.indexOf("103-") + 4),
    m.mark,
  ]);
  expect(marks).toEqual([
    ["2026_06_05-12_00_00.tar.zst", "protected"],
    ["2026_06_06-12_00_00.tar.zst", "remove"],
    ["2026_06_07-12_00_00.tar.zst", "keep"],
    ["2026_06_08-12_00_00.tar.zst", "keep"],
    ["golden.tar.zst", "renamed"],
  ]);
  expect(sim.state.storage("local")?.volumes.size).toBeGreaterThanOrEqual(5);
});

test("prune: a prunebackups task removes exactly the remove marks", async () => {
  const r = await c.call("DELETE", "/nodes/pve1/storage/local/prunebackups", {
    params: { vmid: 103, type: "lxc", "prune-backups": "keep-last=2" },
  });
  expect(r.status).toBe(200);
  expect(r.body.data).toContain(":prunebackups:103@local:");
  const t = await task(r.body.data as string);
  expect(t.exitstatus).toBe("OK");
  expect(t.lines).toContain(
    "removing backup 'local:backup/vzdump-lxc-103-2026_06_06-12_00_00.tar.zst'",
  );
  expect(
    sim.state
      .storage("local")
      ?.volumes.has("local:backup/vzdump-lxc-103-2026_06_06-12_00_00.tar.zst"),
  ).toBe(false);
});

test("delete one volume: an imgdel task; a protected one fails inside the task", async () => {
  const del = async (volid: string) =>
    c.call("DELETE", `/nodes/pve1/storage/local/content/${encodeURIComponent(volid)}`);
  const ok = await del("local:backup/vzdump-lxc-103-2026_06_07-12_00_00.tar.zst");
  expect(ok.body.data).toContain(":imgdel:103@local:");
  expect((await task(ok.body.data as string)).exitstatus).toBe("OK");
  const prot = await del("local:backup/vzdump-lxc-103-2026_06_05-12_00_00.tar.zst");
  const t = await task(prot.body.data as string);
  expect(t.exitstatus).toBe(
    "cannot remove protected volume 'backup/vzdump-lxc-103-2026_06_05-12_00_00.tar.zst' on 'local'",
  );
  const wrong = await del("nas:backup/vzdump-lxc-103-x.tar");
  expect(wrong.status).toBe(400);
});

test("snapshot mode on a storage that cannot snapshot goes on in suspend mode", async () => {
  const g = sim.state.guest(101);
  if (g === undefined) throw new Error("no guest 101");
  const before = g.config.rootfs ?? "local-lvm:vm-101-disk-0,size=8G";
  g.config.rootfs = "local:101/vm-101-disk-0.raw,size=8G";
  try {
    const r = await c.call("POST", "/nodes/pve1/vzdump", {
      params: { vmid: 101, storage: "local", mode: "snapshot", remove: 0 },
    });
    const t = await task(r.body.data as string);
    expect(t.exitstatus).toBe("OK");
    expect(t.lines).toContain("INFO: mode failure - some volumes do not support snapshots");
    expect(t.lines).toContain("INFO: trying 'suspend' mode instead");
    expect(t.lines).toContain("INFO: backup mode: suspend");
  } finally {
    g.config.rootfs = before;
  }
});

test("a target that fills up: the guest's backup fails with no space left, the task `job errors`", async () => {
  const local = sim.state.storage("local");
  if (local === undefined) throw new Error("no local storage");
  const total = local.total;
  let used = local.baseUsed;
  for (const v of local.volumes.values()) used += v.size;
  local.total = used + 1000;
  try {
    const r = await c.call("POST", "/nodes/pve1/vzdump", {
      params: { vmid: 101, storage: "local", remove: 0 },
    });
    const t = await task(r.body.data as string);
    expect(t.exitstatus).toBe("job errors");
    expect(t.lines.some((l) => l.includes("No space left on device"))).toBe(true);
    expect(t.lines.some((l) => l.startsWith("ERROR: Backup of VM 101 failed"))).toBe(true);
  } finally {
    local.total = total;
  }
});
