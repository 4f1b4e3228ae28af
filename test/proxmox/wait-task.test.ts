import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProxmoxApiError } from "../../src/proxmox/api-error.ts";
import { createProxmoxClient } from "../../src/proxmox/client.ts";
import {
  defaultPollSchedule,
  type ProxmoxClient,
  type TaskProgress,
} from "../../src/proxmox/client-types.ts";
import { TaskError, TaskTimeoutError, TaskWaitAbortedError } from "../../src/proxmox/task-error.ts";
import { nextPollAtMs } from "../../src/proxmox/wait-task.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { TOKEN, TOKEN_ID, TOKEN_SECRET } from "./support/constants.ts";
import { type FixtureServer, notFound, startFixtureServer } from "./support/fixture-server.ts";
import { makeUpid, type ScriptedTask, taskRoutes } from "./support/task-script.ts";

let server: FixtureServer;
beforeAll(async () => {
  server = await startFixtureServer({ handler: notFound });
});
afterAll(async () => {
  await server.stop();
});

/** Serves one scripted task and returns a client with an instant clock. */
function setup(task: ScriptedTask, extra: { noSuchTaskWindowMs?: number } = {}) {
  const routes = taskRoutes(task);
  server.setHandler((req) => {
    if (req.path.endsWith("/status")) return routes.status();
    if (req.path.endsWith("/log")) return routes.log(req.query);
    return notFound(req);
  });
  const clock = new ManualClock(1_700_000_000_000);
  const client: ProxmoxClient = createProxmoxClient({
    endpoint: server.url,
    node: "pve",
    token: TOKEN,
    trust: { kind: "fingerprint", sha256: server.fingerprint },
    clock,
    requestTimeoutMs: 5000,
    random: () => 0,
    ...extra,
  });
  return { client, clock, routes };
}

describe("waitTask", () => {
  test("running → OK: first poll at 250 ms, then on a 1 s grid", async () => {
    const upid = makeUpid("vzsnapshot", "100");
    const { client, clock } = setup({ upid, runningPolls: 8, exitstatus: "OK", log: ["TASK OK"] });
    const seen: TaskProgress[] = [];
    const r = await client.waitTask(upid, { deadlineMs: 60_000, onProgress: (p) => seen.push(p) });
    expect(r).toMatchObject({ upid, exitstatus: "OK", warnings: [], polls: 9 });
    expect(r.durationMs).toBe(clock.sleeps.reduce((a, b) => a + b, 0));
    // Polls at 250 ms, 1 s, 2 s, … 8 s: never more than a loop polling at 0 s, 1 s, 2 s, …
    expect(clock.sleeps).toEqual([250, 750, ...Array(7).fill(1000)]);
    expect(seen.map((p) => p.status.status)).toEqual([...Array(8).fill("running"), "stopped"]);
    client.close();
  });

  test("running → WARNINGS: N succeeds and surfaces the WARN: lines", async () => {
    const upid = makeUpid("vzdump", "100");
    const log = [
      "INFO: starting new backup job",
      "WARN: unable to detect disk usage",
      "INFO: backup done",
      "WARN: some files were skipped",
      "TASK WARNINGS: 2",
    ];
    const { client } = setup({ upid, runningPolls: 2, exitstatus: "WARNINGS: 2", log });
    const r = await client.waitTask(upid, { deadlineMs: 60_000 });
    expect(r.exitstatus).toBe("WARNINGS: 2");
    expect(r.warnings).toEqual(["unable to detect disk usage", "some files were skipped"]);
    client.close();
  });

  test("running → failed with a permission error inside the task: privilege parsed, log tail attached", async () => {
    const upid = makeUpid("vzrollback", "100");
    const log = Array.from({ length: 120 }, (_, i) => `line ${i + 1}`);
    log.push("TASK ERROR: Permission check failed (/vms/100, VM.Snapshot.Rollback)");
    const { client } = setup({
      upid,
      runningPolls: 1,
      exitstatus: "Permission check failed (/vms/100, VM.Snapshot.Rollback)",
      log,
    });
    const err = await client.waitTask(upid, { deadlineMs: 60_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.upid).toBe(upid);
    expect(err.type).toBe("vzrollback");
    expect(err.id).toBe("100");
    expect(err.permission).toMatchObject({
      aclPath: "/vms/100",
      privileges: ["VM.Snapshot.Rollback"],
    });
    expect(err.message).toContain("VM.Snapshot.Rollback");
    expect(err.message).toContain(TOKEN_ID);
    expect(err.message).not.toContain(TOKEN_SECRET);
    // The tail is the end of the log, found through `total`.
    expect(err.logTail).toHaveLength(50);
    expect(err.logTail.at(-1)).toBe(
      "TASK ERROR: Permission check failed (/vms/100, VM.Snapshot.Rollback)",
    );
    expect(err.logTail[0]).toBe("line 72");
    client.close();
  });

  test("a lock failure is classified", async () => {
    const upid = makeUpid("vzsnapshot", "105");
    const { client } = setup({
      upid,
      runningPolls: 0,
      exitstatus: "can't lock file '/run/lock/lxc/pve-config-105.lock' - got timeout",
      log: [
        "trying to acquire lock...",
        "TASK ERROR: can't lock file '/run/lock/lxc/pve-config-105.lock' - got timeout",
      ],
    });
    const err = await client.waitTask(upid, { deadlineMs: 60_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.lock).toEqual({ kind: "lock_timeout", file: "/run/lock/lxc/pve-config-105.lock" });
    client.close();
  });

  test("the deadline gives a TaskTimeoutError that says the task was not cancelled", async () => {
    const upid = makeUpid("vzrestore", "120");
    const { client } = setup({ upid, runningPolls: 1_000_000, exitstatus: "OK", log: [] });
    const err = await client.waitTask(upid, { deadlineMs: 10_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(TaskTimeoutError);
    expect(err.upid).toBe(upid);
    expect(err.lastStatus).toBe("running");
    expect(err.waitedMs).toBeGreaterThanOrEqual(10_000);
    expect(err.message).toContain("not cancelled");
    client.close();
  });

  test("an abort stops waiting with TaskWaitAbortedError", async () => {
    const upid = makeUpid("vzstart", "100");
    const { client } = setup({ upid, runningPolls: 1_000_000, exitstatus: "OK", log: [] });
    const ac = new AbortController();
    const err = await client
      .waitTask(upid, {
        deadlineMs: 600_000,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.polls === 3) ac.abort(new Error("shutting down"));
        },
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TaskWaitAbortedError);
    expect(err.polls).toBe(3);
    client.close();
  });

  test("400 no such task right after creation is retried within the window", async () => {
    const upid = makeUpid("vzsnapshot", "100");
    const { client, routes } = setup({
      upid,
      invisiblePolls: 2,
      runningPolls: 1,
      exitstatus: "OK",
      log: ["TASK OK"],
    });
    const r = await client.waitTask(upid, { deadlineMs: 60_000 });
    expect(r.exitstatus).toBe("OK");
    expect(routes.statusPolls()).toBe(4);
    client.close();
  });

  test("no such task beyond the window is an error", async () => {
    const upid = makeUpid("vzsnapshot", "100");
    const { client } = setup(
      { upid, invisiblePolls: 1000, runningPolls: 1, exitstatus: "OK", log: [] },
      { noSuchTaskWindowMs: 1000 },
    );
    const err = await client.waitTask(upid, { deadlineMs: 60_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect(err.isNoSuchTask).toBe(true);
    client.close();
  });

  test("the schedule is injectable per call", async () => {
    const upid = makeUpid("vzstop", "100");
    const { client, clock } = setup({ upid, runningPolls: 3, exitstatus: "OK", log: [] });
    await client.waitTask(upid, {
      deadlineMs: 60_000,
      schedule: { initialMs: 10, factor: 2, maxMs: 30 },
    });
    expect(clock.sleeps).toEqual([10, 20, 30, 30]);
    client.close();
  });

  test("no more polls than a 1 s loop at any moment, and the end seen no later", () => {
    const s = defaultPollSchedule;
    const at: number[] = [];
    for (let k = 0, prev = 0; k < 60; k++) {
      prev = nextPollAtMs(s, k, prev);
      at.push(prev);
    }
    // A loop that polls at once and then every second has made floor(t / 1000) + 1 polls by t.
    for (let t = 0; t <= 60_000; t += 50) {
      const ours = at.filter((x) => x <= t).length;
      expect(ours).toBeLessThanOrEqual(Math.floor(t / 1000) + 1);
    }
    // A task that ends at `end` is seen at the first poll after it; the loop's is ceil(end).
    for (let end = 1; end < 59_000; end += 37) {
      const ours = at.find((x) => x >= end) as number;
      expect(ours).toBeLessThanOrEqual(Math.ceil(end / 1000) * 1000);
    }
    // And short tasks are seen sooner than a loop sees them.
    expect(at[0]).toBe(250);
  });

  test("taskLogTail returns the last lines using total", async () => {
    const upid = makeUpid("vzdump", "100");
    const log = Array.from({ length: 30 }, (_, i) => `l${i + 1}`);
    const { client } = setup({ upid, runningPolls: 0, exitstatus: "OK", log });
    expect(await client.taskLogTail(upid, 3)).toEqual(["l28", "l29", "l30"]);
    expect(await client.taskLogTail(upid, 100)).toHaveLength(30);
    client.close();
  });
});
