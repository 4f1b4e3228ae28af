import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { decodeList, type ListItemProblem, rawVmid } from "../../src/proxmox/decode-list.ts";
import { lenientInt } from "../../src/proxmox/lenient.ts";
import { clusterResourceSchema } from "../../src/proxmox/schema-cluster.ts";
import { lxcStatusSchema, snapshotListSchema } from "../../src/proxmox/schema-guest.ts";
import { taskSummarySchema } from "../../src/proxmox/schema-task.ts";
import { runHealthChecks } from "../../src/selftest/health-report.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { agentClient } from "./support/agent-client.ts";
import { recordingLogger } from "./support/recording-logger.ts";

const LXC = { list: "lxc", identify: (r: Record<string, unknown>) => ({ vmid: rawVmid(r.vmid) }) };
// 999999999999 TiB, as `resize +999999999999T` leaves it; JSON.parse reads it inexactly.
const HUGE = 999_999_999_999 * 2 ** 40;

describe("exact integers", () => {
  test("an integer beyond 2^53 is refused, not rounded, as a number or as text", () => {
    expect(lenientInt.safeParse(2 ** 53 - 1).success).toBe(true);
    for (const v of [HUGE, 2 ** 53 + 2, "1099511627776000000000000"]) {
      const r = lenientInt.safeParse(v);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toContain("2^53");
    }
    expect(lenientInt.safeParse(1.5).success).toBe(false);
  });
});

describe("decodeList: one item never blanks the list", () => {
  test("an oversized optional field is dropped from its item only, and reported with the vmid", () => {
    const out = decodeList(
      [
        { vmid: 100, status: "running", maxdisk: 8 * 2 ** 30 },
        { vmid: "101", status: "stopped", maxdisk: HUGE, disk: 1024 },
        { vmid: 102, status: "running" },
      ],
      lxcStatusSchema,
      LXC,
    );
    expect(out.map((g) => g.vmid)).toEqual([100, 101, 102]);
    expect(out[0]?.maxdiskBytes).toBe(8 * 2 ** 30);
    expect(out[1]?.maxdiskBytes).toBeUndefined();
    expect(out[1]?.diskBytes).toBe(1024);
    expect(out.problems).toHaveLength(1);
    const p = out.problems?.[0] as ListItemProblem;
    expect(p).toMatchObject({ list: "lxc", index: 1, vmid: 101, outcome: "partial" });
    expect(p.fields).toEqual(["maxdisk"]);
    expect(p.issues[0]).toContain("maxdisk: larger than 2^53 - 1");
    expect(p.issues[0]).toContain("(got 1.09951162777");
  });

  test("an item whose required fields are unreadable is left out and reported", () => {
    const out = decodeList(
      [{ vmid: 100, status: "running" }, { vmid: 101 }, "garbage", { vmid: {}, status: "x" }],
      lxcStatusSchema,
      LXC,
    );
    expect(out.map((g) => g.vmid)).toEqual([100]);
    expect(out.problems?.map((p) => [p.index, p.vmid, p.outcome])).toEqual([
      [1, 101, "dropped"],
      [2, undefined, "dropped"],
      [3, undefined, "dropped"],
    ]);
  });

  test("a clean list carries no problems and equals a plain array", () => {
    const out = decodeList([{ vmid: 100, status: "running" }], lxcStatusSchema, LXC);
    expect(out.problems).toBeUndefined();
    expect(out).toEqual([expect.objectContaining({ vmid: 100 })]);
  });

  test("cluster resources and tasks decode per item too", () => {
    const res = decodeList(
      [
        { id: "lxc/100", type: "lxc", vmid: 100, node: "pve", maxdisk: HUGE },
        { id: "storage/pve/local", type: "storage", node: "pve", storage: "local" },
      ],
      clusterResourceSchema,
      { list: "cluster-resources", identify: (r) => ({ vmid: rawVmid(r.vmid) }) },
    );
    expect(res).toHaveLength(2);
    expect(res.problems?.[0]).toMatchObject({ vmid: 100, outcome: "partial", fields: ["maxdisk"] });
    const tasks = decodeList([{ upid: "not a upid", starttime: 1 }], taskSummarySchema, {
      list: "tasks",
      identify: () => ({}),
    });
    expect(tasks).toHaveLength(0);
    expect(tasks.problems?.[0]?.outcome).toBe("dropped");
  });

  test("a snapshot list keeps the snapshots it can read", () => {
    const l = snapshotListSchema.parse([
      { name: "before", snaptime: 1_700_000_000, description: "" },
      { name: "huge", snaptime: HUGE },
      { description: "no name" },
      { name: "current", parent: "huge", running: 1 },
    ]);
    expect(l.snapshots.map((x) => x.name)).toEqual(["huge", "before"]);
    expect(l.currentParent).toBe("huge");
    expect(l.problems?.map((p) => [p.id, p.outcome])).toEqual([
      ["huge", "partial"],
      [undefined, "dropped"],
    ]);
  });

  test("a value in the report is cut short", () => {
    const out = decodeList(
      [{ vmid: 100, status: 5, lock: "x".repeat(500) }],
      z.object({
        vmid: z.number(),
        status: z.string(),
        lock: z.number().optional(),
      }),
      LXC,
    );
    expect(out.problems?.[0]?.issues.every((i) => i.length < 200)).toBe(true);
  });
});

describe("through the simulator: a guest grown past 2^53 bytes", () => {
  let sim: PveSimulator;
  let c: ProxmoxClient;
  const seen: ListItemProblem[] = [];
  const logger = recordingLogger();
  beforeAll(async () => {
    sim = await startPveSimulator({ taskMs: 10, authFailDelayMs: 1 });
    c = agentClient(sim, {
      taskPoll: { initialMs: 5, factor: 1.5, maxMs: 50 },
      logger,
      onListItemProblem: (p) => seen.push(p),
    });
  });
  afterAll(async () => {
    c.close();
    await sim.stop();
  });

  test("the lxc list still has every guest; the huge size is refused for that guest only", async () => {
    const before = (await c.listLXC()).map((g) => g.vmid).sort();
    await c.waitTask(await c.resize(102, { disk: "rootfs", size: "+999999999999T" }), {
      deadlineMs: 10_000,
    });
    const after = await c.listLXC();
    expect(after.map((g) => g.vmid).sort()).toEqual(before);
    expect(after.find((g) => g.vmid === 102)?.maxdiskBytes).toBeUndefined();
    expect(after.find((g) => g.vmid === 101)?.maxdiskBytes).toBeNumber();
    expect(after.problems).toEqual([expect.objectContaining({ vmid: 102, fields: ["maxdisk"] })]);
    expect(seen).toContainEqual(expect.objectContaining({ list: "lxc", vmid: 102 }));
    expect(logger.records.some((r) => r.level === "warn" && r.fields?.vmid === 102)).toBe(true);
    // The other list reads that carry the size keep the guest too.
    const vms = await c.clusterResources({ type: "vm" });
    expect(vms.some((r) => r.vmid === 102)).toBe(true);
  });

  test("the selftest lists every guest and warns about the one it could not read whole", async () => {
    const report = await runHealthChecks({ client: c, endpoint: sim.endpoint });
    const guests = report.checks.find((k) => k.name === "guests");
    expect(guests?.status).toBe("warn");
    expect(guests?.hints.join("\n")).toContain("container 102 listed without some fields");
    expect(report.guests?.some((g) => g.vmid === 102)).toBe(true);
  });
});
