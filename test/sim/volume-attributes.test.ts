/**
 * `PUT /nodes/{node}/storage/{storage}/content/{volume}` in the simulator
 * (docs/proxmox-behaviour.md#protected-backups): protection and notes of a backup, synchronous
 * `null`; the privileges PVE checks; the per-guest limit of protected backups; a protected
 * backup then refuses a delete inside its task and is never marked for pruning.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { defaultSeed } from "../../src/sim/pve/seed.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock(Date.UTC(2026, 5, 10, 12, 0, 0));
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
/** Every agent privilege but Datastore.Allocate: the storage's default limit of 5 applies. */
let spaceOnly: string;
/** Datastore.AllocateSpace but not VM.Backup. */
let noBackup: string;

const vol = (day: number) =>
  `local:backup/vzdump-lxc-103-2026_06_${String(day).padStart(2, "0")}-12_00_00.tar.zst`;

beforeAll(async () => {
  const seed = defaultSeed();
  const agentPrivs = seed.access.roles.FelhomAgent ?? [];
  seed.access.roles.SpaceOnly = agentPrivs.filter((p) => p !== "Datastore.Allocate");
  seed.access.roles.NoBackup = agentPrivs.filter((p) => p !== "VM.Backup");
  for (const [key, role] of [
    ["spaceonly", "SpaceOnly"],
    ["nobackup", "NoBackup"],
  ] as const) {
    seed.access.tokens.push({ key, userid: "felhom-agent@pve", tokenid: key, privsep: true });
    seed.access.acl.push({
      path: "/",
      ugid: `felhom-agent@pve!${key}`,
      roleid: role,
      propagate: true,
    });
  }
  sim = await startPveSimulator({ seed, authFailDelayMs: 1, clock, taskMs: 1000 });
  c = simClient(sim);
  spaceOnly = sim.tokens.all.spaceonly as string;
  noBackup = sim.tokens.all.nobackup as string;
  const local = sim.state.storage("local");
  for (let day = 1; day <= 8; day++) {
    local?.volumes.set(vol(day), {
      volid: vol(day),
      content: "backup",
      format: "tar.zst",
      size: 1000,
      ctime: Math.floor(Date.UTC(2026, 5, day, 12) / 1000),
      vmid: 103,
    });
  }
});
afterAll(async () => {
  c.close();
  await sim.stop();
});

const put = (volid: string, params: Record<string, string | number>, token?: string) =>
  c.call("PUT", `/nodes/pve1/storage/local/content/${encodeURIComponent(volid)}`, {
    params,
    ...(token === undefined ? {} : { token }),
  });

test("protected=1: null, listed protected, marked protected by the dry run, a delete fails in its task", async () => {
  const r = await put(vol(1), { protected: 1 });
  expect([r.status, r.body.data]).toEqual([200, null]);
  const listing = await c.call("GET", "/nodes/pve1/storage/local/content", {
    params: { content: "backup", vmid: 103 },
  });
  const entry = (listing.body.data as { volid: string; protected?: number }[]).find(
    (v) => v.volid === vol(1),
  );
  expect(entry?.protected).toBe(1);
  const marks = await c.call("GET", "/nodes/pve1/storage/local/prunebackups", {
    params: { vmid: 103, type: "lxc", "prune-backups": "keep-last=1" },
  });
  expect(
    (marks.body.data as { volid: string; mark: string }[]).find((m) => m.volid === vol(1))?.mark,
  ).toBe("protected");
  const del = await c.call(
    "DELETE",
    `/nodes/pve1/storage/local/content/${encodeURIComponent(vol(1))}`,
  );
  expect(del.status).toBe(200);
  clock.advance(2000);
  const st = await c.call(
    "GET",
    `/nodes/pve1/tasks/${encodeURIComponent(del.body.data as string)}/status`,
  );
  expect(st.body.data.exitstatus).toBe(
    "cannot remove protected volume 'backup/vzdump-lxc-103-2026_06_01-12_00_00.tar.zst' on 'local'",
  );
  expect(sim.state.storage("local")?.volumes.has(vol(1))).toBe(true);
});

test("a backup volume needs VM.Backup on its guest", async () => {
  const r = await put(vol(2), { protected: 1 }, noBackup);
  expect([r.status, r.statusText]).toEqual([403, "Permission check failed (/vms/103, VM.Backup)"]);
  expect(sim.state.storage("local")?.volumes.get(vol(2))?.protected).toBeUndefined();
});

test("without Datastore.Allocate a guest may have 5 protected backups on a storage; with it, more", async () => {
  for (const day of [2, 3, 4, 5])
    expect((await put(vol(day), { protected: 1 }, spaceOnly)).status).toBe(200);
  // Protecting one already protected counts nothing.
  expect((await put(vol(5), { protected: 1 }, spaceOnly)).status).toBe(200);
  const sixth = await put(vol(6), { protected: 1 }, spaceOnly);
  expect([sixth.status, sixth.statusText]).toEqual([
    500,
    "The number of protected backups per guest is limited to 5 on storage 'local'",
  ]);
  expect((await put(vol(6), { protected: 1 })).status).toBe(200);
  // Unprotecting is never limited.
  expect((await put(vol(6), { protected: 0 }, spaceOnly)).status).toBe(200);
  expect(sim.state.storage("local")?.volumes.get(vol(6))?.protected).toBe(false);
});

test("a volume of another storage is a parameter error; notes are set too", async () => {
  const r = await c.call(
    "PUT",
    `/nodes/pve1/storage/local/content/${encodeURIComponent("nas1:backup/vzdump-lxc-103-2026_06_07-12_00_00.tar.zst")}`,
    { params: { protected: 1 } },
  );
  expect(r.status).toBe(400);
  expect(r.body.errors).toEqual({ volume: "storage ID mismatch (nas1 != local)" });
  expect((await put(vol(7), { notes: "monthly" })).status).toBe(200);
  expect(sim.state.storage("local")?.volumes.get(vol(7))?.notes).toBe("monthly");
});
