import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseUpid } from "../../src/proxmox/upid.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

const clock = new ManualClock();
let sim: PveSimulator;
let c: ReturnType<typeof simClient>;
const CT = "/nodes/pve1/lxc";
const task = (upid: string, what: "status" | "log") =>
  `/nodes/pve1/tasks/${encodeURIComponent(upid)}/${what}`;

beforeAll(async () => {
  sim = await startPveSimulator({
    authFailDelayMs: 1,
    clock,
    taskMs: { default: 1000, vzdump: 5000 },
    lockTimeoutMs: 10_000,
  });
  c = simClient(sim);
});

afterAll(async () => {
  c.close();
  await sim.stop();
});

describe("tasks (docs/proxmox-behaviour.md#upid-format, docs/proxmox-behaviour.md#task-status, docs/proxmox-behaviour.md#task-log)", () => {
  test("UPID carries the token in the user field; status splits tokenid; running → stopped OK", async () => {
    const r = await c.call("POST", `${CT}/102/snapshot`, { params: { snapname: "t1" } });
    const upid = r.body.data as string;
    const parts = parseUpid(upid);
    expect(parts).toMatchObject({
      node: "pve1",
      type: "vzsnapshot",
      id: "102",
      user: "felhom-agent@pve!agent",
      starttime: Math.floor(clock.now() / 1000),
    });
    expect(upid.endsWith(":")).toBe(true);
    const running = (await c.call("GET", task(upid, "status"))).body.data;
    expect(running).toMatchObject({
      status: "running",
      user: "felhom-agent@pve",
      tokenid: "agent",
    });
    expect(running.exitstatus).toBeUndefined();
    expect(running.endtime).toBeUndefined();
    // The lock is held while the task runs (docs/proxmox-behaviour.md#locks).
    const locked = await c.call("PUT", `${CT}/102/config`, { params: { cores: 3 } });
    expect([locked.status, locked.statusText]).toEqual([500, "CT is locked (snapshot)"]);
    clock.advance(1000);
    const done = (await c.call("GET", task(upid, "status"))).body.data;
    expect(done).toMatchObject({ status: "stopped", exitstatus: "OK", pid: parts.pid });
    const snaps = (await c.call("GET", `${CT}/102/snapshot`)).body.data;
    expect(snaps.map((s: { name: string }) => s.name)).toEqual(["t1", "current"]);
    expect(snaps[1]).toMatchObject({ description: "You are here!", parent: "t1", running: 0 });
  });

  test("log: 1-based n, total beside data, start/limit, limit=0 to the end", async () => {
    const r = await c.call("POST", "/nodes/pve1/vzdump", {
      params: { vmid: 103, storage: "local" },
    });
    const upid = r.body.data as string;
    clock.advance(5000);
    const all = await c.call("GET", task(upid, "log"), { params: { limit: 0 } });
    const total = all.body.total as number;
    expect(total).toBe(all.body.data.length);
    expect(all.body.data[0].n).toBe(1);
    expect(all.body.data[total - 1]).toEqual({ n: total, t: "TASK OK" });
    const page = await c.call("GET", task(upid, "log"), { params: { start: 1, limit: 2 } });
    expect(page.body.data.map((l: { n: number }) => l.n)).toEqual([2, 3]);
    expect(page.body.total).toBe(total);
  });

  test("empty log: a single 'no content' line", async () => {
    const r = await c.call("POST", `${CT}/103/status/stop`);
    const log = await c.call("GET", task(r.body.data, "log"));
    expect(log.body).toEqual({ data: [{ n: 1, t: "no content" }], total: 1 });
    clock.advance(1000);
  });

  test("unknown and malformed UPIDs: 400 on upid", async () => {
    const bad = await c.call("GET", task("UPID:nope", "status"));
    expect([bad.status, bad.body.errors]).toEqual([400, { upid: "unable to parse worker upid" }]);
    const missing = await c.call(
      "GET",
      task("UPID:pve1:00000001:00000002:00000003:vzstart:101:root@pam:", "status"),
    );
    expect([missing.status, missing.body.errors]).toEqual([400, { upid: "no such task" }]);
  });

  test("snapshot of a missing CT still returns a UPID; the error is the exitstatus (docs/proxmox-behaviour.md#locks)", async () => {
    const r = await c.call("POST", `${CT}/999/snapshot`, { params: { snapname: "x1" } });
    expect(r.status).toBe(200);
    const st = (await c.call("GET", task(r.body.data, "status"))).body.data;
    expect(st.exitstatus).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
    const log = (await c.call("GET", task(r.body.data, "log"))).body.data;
    expect(log.at(-1).t).toBe(
      "TASK ERROR: Configuration file 'nodes/pve1/lxc/999.conf' does not exist",
    );
  });

  test("duplicate snapshot name and missing snapshot fail inside the task", async () => {
    const dup = await c.call("POST", `${CT}/101/snapshot`, {
      params: { snapname: "before-upgrade" },
    });
    expect((await c.call("GET", task(dup.body.data, "status"))).body.data.exitstatus).toBe(
      "snapshot name 'before-upgrade' already used",
    );
    const rb = await c.call("POST", `${CT}/101/snapshot/nope/rollback`);
    expect((await c.call("GET", task(rb.body.data, "status"))).body.data.exitstatus).toBe(
      "snapshot 'nope' does not exist",
    );
    const del = await c.call("DELETE", `${CT}/101/snapshot/nope`);
    expect((await c.call("GET", task(del.body.data, "status"))).body.data.exitstatus).toBe(
      "snapshot 'nope' does not exist",
    );
  });

  test("reserved snapshot names are refused synchronously", async () => {
    const r = await c.call("POST", `${CT}/101/snapshot`, { params: { snapname: "vzdump" } });
    expect(r.status).toBe(500);
  });

  test("a task on a locked CT fails with CT is locked (…)", async () => {
    const first = await c.call("POST", `${CT}/101/snapshot`, { params: { snapname: "a1" } });
    const second = await c.call("POST", `${CT}/101/snapshot`, { params: { snapname: "a2" } });
    expect((await c.call("GET", task(second.body.data, "status"))).body.data.exitstatus).toBe(
      "CT is locked (snapshot)",
    );
    clock.advance(1000);
    expect((await c.call("GET", task(first.body.data, "status"))).body.data.exitstatus).toBe("OK");
  });

  test("task list: own tasks, newest first, finished ones with status and endtime", async () => {
    const list = (await c.call("GET", "/nodes/pve1/tasks", { params: { limit: 3 } })).body.data;
    expect(list.length).toBe(3);
    expect(list[0].starttime).toBeGreaterThanOrEqual(list[2].starttime);
    for (const t of list) expect(t).toHaveProperty("endtime");
  });
});

describe("fault-driven tasks", () => {
  test("taskfail, warn and hang; stopping a hung task", async () => {
    sim.setFaults({ taskFail: ["vzsnapshot"], warn: ["vzstart"], hang: ["vzshutdown"] });
    try {
      const snap = await c.call("POST", `${CT}/102/snapshot`, { params: { snapname: "f1" } });
      const start = await c.call("POST", `${CT}/102/status/start`);
      const shut = await c.call("POST", `${CT}/101/status/shutdown`);
      clock.advance(60_000);
      const st = async (u: string) => (await c.call("GET", task(u, "status"))).body.data;
      expect((await st(snap.body.data)).exitstatus).toContain("fault injection");
      expect((await st(start.body.data)).exitstatus).toBe("WARNINGS: 1");
      const log = (await c.call("GET", task(start.body.data, "log"))).body.data;
      expect(log.some((l: { t: string }) => l.t.startsWith("WARN: "))).toBe(true);
      expect((await st(shut.body.data)).status).toBe("running");
      const stop = await c.call(
        "DELETE",
        `/nodes/pve1/tasks/${encodeURIComponent(shut.body.data)}`,
      );
      expect(stop.status).toBe(200);
      expect((await st(shut.body.data)).exitstatus).toBe("interrupted by signal");
    } finally {
      sim.setFaults({});
    }
  });

  test("lockwait: sync 500 with the flock text; in a task after 'trying to acquire lock...'", async () => {
    sim.setFaults("lockwait=103");
    try {
      const put = await c.call("PUT", `${CT}/103/config`, { params: { cores: 1 } });
      expect(put.status).toBe(500);
      expect(put.statusText).toBe(
        "can't lock file '/run/lock/lxc/pve-config-103.lock' - got timeout",
      );
      const r = await c.call("POST", `${CT}/103/snapshot`, { params: { snapname: "l1" } });
      clock.advance(10_000);
      const log = (await c.call("GET", task(r.body.data, "log"), { params: { limit: 0 } })).body
        .data;
      expect(log.map((l: { t: string }) => l.t)).toEqual([
        "trying to acquire lock...",
        "TASK ERROR: can't lock file '/run/lock/lxc/pve-config-103.lock' - got timeout",
      ]);
    } finally {
      sim.setFaults({});
    }
  });
});
