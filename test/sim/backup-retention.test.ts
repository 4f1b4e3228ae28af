/**
 * vzdump's `remove` and retention in the simulator (docs/proxmox-behaviour.md#vzdump-remove):
 * storage `prune-backups` set through PUT /storage/{storage}, `remove` defaulting to 1, the
 * up-front limit with `remove=0`, and PVE's keep-* marks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  defaultSeed,
  type PveSimulator,
  pveSeedSchema,
  startPveSimulator,
} from "../../src/sim/pve/index.ts";
import { markBackupGroup, parseRetention, type Retention } from "../../src/sim/pve/prune.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock();
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
/** A token whose role lacks Datastore.Allocate: `remove=0` is all it may send. */
let spaceOnly: string;

beforeAll(async () => {
  const seed = defaultSeed();
  const agentPrivs = seed.access.roles.FelhomAgent ?? [];
  seed.access.roles.SpaceOnly = agentPrivs.filter((p) => p !== "Datastore.Allocate");
  seed.access.tokens.push({
    key: "spaceonly",
    userid: "felhom-agent@pve",
    tokenid: "spaceonly",
    privsep: true,
  });
  seed.access.acl.push({
    path: "/",
    ugid: "felhom-agent@pve!spaceonly",
    roleid: "SpaceOnly",
    propagate: true,
  });
  sim = await startPveSimulator({ seed, authFailDelayMs: 1, clock, taskMs: 1000 });
  c = simClient(sim);
  spaceOnly = sim.tokens.all.spaceonly as string;
});

afterAll(async () => {
  c.close();
  await sim.stop();
});

async function backup(vmid: number, params: Record<string, string | number> = {}, token?: string) {
  const r = await c.call("POST", "/nodes/pve1/vzdump", {
    params: { vmid, storage: "local", ...params },
    ...(token === undefined ? {} : { token }),
  });
  expect(r.status).toBe(200);
  const upid = r.body.data as string;
  // Tasks finish when the clock passes their end; a second apart, archive names differ.
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

async function archives(vmid: number): Promise<string[]> {
  const r = await c.call("GET", "/nodes/pve1/storage/local/content", {
    params: { content: "backup", vmid },
  });
  return (r.body.data as Array<{ volid: string }>).map((v) => v.volid).sort();
}

async function setRetention(value: string | null): Promise<void> {
  const r = await c.call("PUT", "/storage/local", {
    params: value === null ? { delete: "prune-backups" } : { "prune-backups": value },
  });
  expect([r.status, r.body]).toEqual([200, { data: { storage: "local", type: "dir" } }]);
}

describe("PUT /storage/{storage}", () => {
  test("sets and deletes prune-backups; GET /storage shows it", async () => {
    await setRetention("keep-last=2,keep-daily=3");
    const list = (await c.call("GET", "/storage")).body.data as Array<Record<string, unknown>>;
    expect(list.find((s) => s.storage === "local")?.["prune-backups"]).toBe(
      "keep-last=2,keep-daily=3",
    );
    await setRetention(null);
    const after = (await c.call("GET", "/storage")).body.data as Array<Record<string, unknown>>;
    expect(after.find((s) => s.storage === "local")).not.toHaveProperty("prune-backups");
  });

  test("needs Datastore.Allocate on /storage", async () => {
    const r = await c.call("PUT", "/storage/local", {
      params: { "prune-backups": "keep-last=1" },
      token: spaceOnly,
    });
    expect([r.status, r.statusText]).toEqual([
      403,
      "Permission check failed (/storage, Datastore.Allocate)",
    ]);
  });

  test("keep-all together with a keep-* count is a parameter error; a stale digest a 500", async () => {
    const r = await c.call("PUT", "/storage/local", {
      params: { "prune-backups": "keep-all=1,keep-last=1" },
    });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual({
      "prune-backups": "invalid format - keep-all cannot be set together with other options.\n",
    });
    const stale = await c.call("PUT", "/storage/local", {
      params: { "prune-backups": "keep-last=1", digest: "0".repeat(40) },
    });
    expect([stale.status, stale.statusText]).toEqual([
      500,
      "update storage failed: detected modified configuration - file changed by other user? Try again.",
    ]);
  });
});

describe("vzdump remove and retention", () => {
  test("without remove, vzdump prunes by the storage's keep-last=1 and logs it", async () => {
    await setRetention("keep-last=1");
    const first = await backup(101);
    expect(first.exitstatus).toBe("OK");
    expect(await archives(101)).toHaveLength(1);
    const [older] = await archives(101);
    const second = await backup(101);
    expect(second.exitstatus).toBe("OK");
    const left = await archives(101);
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(older);
    expect(second.lines).toContain("INFO: prune older backups with retention: keep-last=1");
    expect(second.lines).toContain(`INFO: removing backup '${older}'`);
    expect(second.lines).toContain("INFO: pruned 1 backup(s) not covered by keep-retention policy");
  });

  test("remove=0 at the limit is refused before anything is written", async () => {
    await setRetention("keep-last=1");
    const before = await archives(101);
    const r = await backup(101, { remove: 0 });
    expect(r.exitstatus).toBe("job errors");
    expect(r.lines).toContain(
      "ERROR: Backup of VM 101 failed - There is a max backup limit of 1 enforced by the target storage or the vzdump parameters. Either increase the limit or delete old backups.",
    );
    expect(r.lines.some((l) => l.startsWith("INFO: Starting Backup"))).toBe(false);
    expect(await archives(101)).toEqual(before);
  });

  test("remove=0 with prune-backups=keep-all=1 adds a copy each time and prunes nothing", async () => {
    await setRetention("keep-last=1");
    const before = await archives(101);
    for (let i = 0; i < 2; i++) {
      const r = await backup(101, { remove: 0, "prune-backups": "keep-all=1" });
      expect(r.exitstatus).toBe("OK");
      expect(r.lines.some((l) => l.includes("prune"))).toBe(false);
    }
    const after = await archives(101);
    expect(after).toHaveLength(before.length + 2);
    expect(after).toEqual(expect.arrayContaining(before));
  });

  test("passing prune-backups needs Datastore.Allocate on the storage", async () => {
    const r = await c.call("POST", "/nodes/pve1/vzdump", {
      params: { vmid: 101, storage: "local", remove: 0, "prune-backups": "keep-all=1" },
      token: spaceOnly,
    });
    expect([r.status, r.statusText]).toEqual([
      403,
      "Permission check failed (/storage/local, Datastore.Allocate)",
    ]);
  });

  test("protected backups are never pruned and do not count toward the limit", async () => {
    await setRetention("keep-last=1");
    const p = await backup(102, { protected: 1 });
    expect(p.exitstatus).toBe("OK");
    const protectedOne = await archives(102);
    const a = await backup(102);
    const b = await backup(102);
    expect([a.exitstatus, b.exitstatus]).toEqual(["OK", "OK"]);
    const left = await archives(102);
    expect(left).toHaveLength(2);
    expect(left).toEqual(expect.arrayContaining(protectedOne));
  });

  test("no storage retention means keep-all: remove=1 prunes nothing", async () => {
    await setRetention(null);
    const before = await archives(103);
    const r = await backup(103, { remove: 1 });
    expect(r.exitstatus).toBe("OK");
    expect(r.lines.some((l) => l.includes("prune"))).toBe(false);
    expect(await archives(103)).toHaveLength(before.length + 1);
  });
});

describe("prune_mark_backup_group", () => {
  const at = (iso: string) => Date.parse(iso) / 1000;
  const retention = (text: string): Retention => {
    const r = parseRetention(text);
    if ("error" in r) throw new Error(r.error);
    return r;
  };

  test("each pass skips periods an earlier pass covered; same-period entries are removed", () => {
    // The worked example of the upstream algorithm, in the simulator's UTC.
    const entries = [
      { volid: "a", ctime: at("2026-01-03T02:00:00Z") },
      { volid: "b", ctime: at("2026-01-02T14:00:00Z") },
      { volid: "c", ctime: at("2026-01-02T02:00:00Z") },
      { volid: "d", ctime: at("2026-01-01T02:00:00Z") },
      { volid: "e", ctime: at("2025-12-25T02:00:00Z") },
      { volid: "f", ctime: at("2025-12-20T02:00:00Z"), mark: "protected" as const },
      { volid: "g", ctime: at("2025-11-30T02:00:00Z") },
      { volid: "h", ctime: at("2025-11-29T02:00:00Z") },
    ];
    const marks = markBackupGroup(
      entries,
      retention("keep-last=1,keep-daily=2,keep-weekly=1,keep-monthly=1"),
    );
    expect(Object.fromEntries(marks.map((e) => [e.volid, e.mark]))).toEqual({
      a: "keep",
      b: "keep",
      c: "remove",
      d: "keep",
      e: "keep",
      f: "protected",
      g: "keep",
      h: "remove",
    });
  });

  test("keep-yearly and keep-hourly use their own periods", () => {
    const entries = [
      { volid: "y26", ctime: at("2026-03-01T10:30:00Z") },
      { volid: "y26b", ctime: at("2026-03-01T10:10:00Z") },
      { volid: "y25", ctime: at("2025-06-01T00:00:00Z") },
      { volid: "y24", ctime: at("2024-06-01T00:00:00Z") },
    ];
    const yearly = markBackupGroup(entries, retention("keep-yearly=2"));
    expect(yearly.map((e) => e.mark)).toEqual(["keep", "remove", "keep", "remove"]);
    const hourly = markBackupGroup(entries, retention("keep-hourly=3"));
    expect(hourly.map((e) => e.mark)).toEqual(["keep", "remove", "keep", "keep"]);
  });

  test("a seed storage with keep-all and a count is refused", () => {
    const seed = defaultSeed();
    const local = seed.storages.find((st) => st.storage === "local");
    if (local) local.pruneBackups = "keep-all=1,keep-last=2";
    const r = pveSeedSchema.safeParse(seed);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain("keep-all cannot be set with other options");
  });

  test("all counts zero is keep-all; keep-all with a count is refused", () => {
    expect(parseRetention("keep-last=0,keep-daily=0")).toEqual({ keepAll: true });
    expect(parseRetention("keep-all=1,keep-last=2")).toEqual({
      error: "keep-all cannot be set together with other options.",
    });
    const marks = markBackupGroup([{ volid: "x", ctime: 1 }], { keepAll: true });
    expect(marks[0]?.mark).toBe("keep");
  });
});
