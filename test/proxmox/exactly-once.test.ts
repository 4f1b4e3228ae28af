import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ProxmoxClient } from "../../src/proxmox/client-types.ts";
import { ProxmoxNetworkError } from "../../src/proxmox/transport-errors.ts";
import { type PveSimulator, startPveSimulator } from "../../src/sim/pve/index.ts";
import { agentClient } from "./support/agent-client.ts";

// The seed's running customer CT (src/sim/pve/seed.ts).
const VMID = 101;

let sim: PveSimulator;
let agent: ProxmoxClient;

beforeAll(async () => {
  sim = await startPveSimulator({ taskMs: 20, authFailDelayMs: 10 });
  agent = agentClient(sim, {
    taskPoll: { initialMs: 10, factor: 1.5, maxMs: 50 },
    retry: { attempts: 3, baseMs: 1, capMs: 5 },
  });
});
afterAll(async () => {
  agent?.close();
  await sim?.stop();
});

const tasksOf = (type: string) => sim.state.tasks().filter((t) => t.parts.type === type);

/** Waits for every task the simulator has, so the next mutation does not meet a lock. */
async function settle(): Promise<void> {
  for (const t of sim.state.tasks()) {
    if (t.status === "running")
      await agent.waitTask(t.upid, { deadlineMs: 10_000 }).catch(() => {});
  }
}

/**
 * Runs `mutate` over a connection pool that already holds a live connection (the case in
 * which the runtime re-sends idempotent methods, docs/bun-runtime.md), with the simulator
 * applying the change and then closing the connection without an answer. Returns how many
 * requests reached the simulator.
 */
async function sentUnderDropAfter(mutate: () => Promise<unknown>): Promise<number> {
  await settle();
  await agent.version();
  const before = sim.stats().requests;
  sim.setFaults({ dropAfter: 1 });
  try {
    const err = await mutate().then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(ProxmoxNetworkError);
  } finally {
    sim.setFaults({});
  }
  return sim.stats().requests - before;
}

describe("a mutation whose answer is lost is sent exactly once", () => {
  test("POST (snapshot)", async () => {
    expect(await sentUnderDropAfter(() => agent.snapshot(VMID, "once_post"))).toBe(1);
    expect(tasksOf("vzsnapshot")).toHaveLength(1);
  });

  test("PUT (config)", async () => {
    expect(await sentUnderDropAfter(() => agent.setConfig(VMID, { cores: 3 }))).toBe(1);
    expect(sim.state.guest(VMID)?.config.cores).toBe(3);
  });

  test("PUT (resize)", async () => {
    const before = tasksOf("resize").length;
    expect(
      await sentUnderDropAfter(() => agent.resize(VMID, { disk: "rootfs", size: "+1G" })),
    ).toBe(1);
    expect(tasksOf("resize")).toHaveLength(before + 1);
  });

  test("DELETE (snapshot delete)", async () => {
    const before = tasksOf("vzdelsnapshot").length;
    expect(await sentUnderDropAfter(() => agent.deleteSnapshot(VMID, "once_post"))).toBe(1);
    expect(tasksOf("vzdelsnapshot")).toHaveLength(before + 1);
  });

  test("reads are still retried when their answer is lost", async () => {
    await agent.version();
    const before = sim.stats().requests;
    sim.setFaults({ drop: 1 });
    try {
      await expect(agent.version()).rejects.toBeInstanceOf(ProxmoxNetworkError);
    } finally {
      sim.setFaults({});
    }
    // The client's own retry policy (3 attempts) applies to reads, on top of the runtime's.
    expect(sim.stats().requests - before).toBeGreaterThanOrEqual(3);
  });
});
