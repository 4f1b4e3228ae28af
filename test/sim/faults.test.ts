import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  FaultSpecError,
  type PveSimulator,
  parseFaultSpec,
  startPveSimulator,
} from "../../src/sim/pve/index.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { simClient } from "./sim-client.ts";

describe("fault SPEC grammar", () => {
  test("parses every key; list values join with + and repeated keys add up", () => {
    const f = parseFaultSpec(
      "latency=50ms,http500=0.1,http596=0.05,drop=0.02,dropafter=0.01,taskfail=vzsnapshot+vzdump,taskfail=resize,hang=vzstart,warn=vzdump,lockwait=101+102",
    );
    expect(f).toEqual({
      latencyMs: 50,
      http500: 0.1,
      http596: 0.05,
      drop: 0.02,
      dropAfter: 0.01,
      taskFail: ["vzsnapshot", "vzdump", "resize"],
      hang: ["vzstart"],
      warn: ["vzdump"],
      lockWait: [101, 102],
    });
    expect(parseFaultSpec("latency=1s").latencyMs).toBe(1000);
    expect(parseFaultSpec("").http500).toBe(0);
  });

  test("bad items are named", () => {
    expect(() => parseFaultSpec("http500=2")).toThrow(FaultSpecError);
    expect(() => parseFaultSpec("nope=1")).toThrow("invalid fault 'nope=1': unknown key 'nope'");
    expect(() => parseFaultSpec("lockwait=abc")).toThrow("'abc' is not a VMID");
    expect(() => parseFaultSpec("latency")).toThrow("expected key=value");
  });
});

describe("transport faults", () => {
  let sim: PveSimulator;
  let c: ReturnType<typeof simClient>;
  beforeAll(async () => {
    sim = await startPveSimulator({ authFailDelayMs: 1, clock: new ManualClock(), randomSeed: 7 });
    c = simClient(sim);
  });
  afterAll(async () => {
    c.close();
    await sim.stop();
  });

  test("drop=1: the client sees a network error, not a response", async () => {
    sim.setFaults("drop=1");
    try {
      await expect(c.call("GET", "/version")).rejects.toThrow();
      expect(sim.stats().dropped).toBeGreaterThan(0);
    } finally {
      sim.setFaults({});
    }
    expect((await c.call("GET", "/version")).status).toBe(200);
  });

  test("dropafter=1: the change happens although the client got no answer", async () => {
    sim.setFaults({ dropAfter: 1 });
    try {
      await expect(
        c.call("PUT", "/nodes/pve1/lxc/102/config", { params: { cores: 5 } }),
      ).rejects.toThrow();
    } finally {
      sim.setFaults({});
    }
    expect(sim.state.guest(102)?.config.cores).toBe(5);
  });

  test("http596=1 and http500=1", async () => {
    sim.setFaults("http596=1");
    const r596 = await c.call("GET", "/version");
    expect([r596.status, r596.statusText]).toEqual([596, "Connection timed out"]);
    sim.setFaults("http500=1");
    const r500 = await c.call("GET", "/version");
    expect(r500.status).toBe(500);
    expect(r500.body.data).toBeNull();
    sim.setFaults({});
  });

  test("rates draw from the seeded source: the same seed gives the same outcomes", async () => {
    const outcomes = async (s: PveSimulator) => {
      const cl = simClient(s);
      s.setFaults("http500=0.5");
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push((await cl.call("GET", "/version")).status);
      cl.close();
      return out;
    };
    const a = await startPveSimulator({ authFailDelayMs: 1, randomSeed: 42 });
    const b = await startPveSimulator({ authFailDelayMs: 1, randomSeed: 42 });
    try {
      const oa = await outcomes(a);
      expect(oa).toEqual(await outcomes(b));
      expect(oa).toContain(500);
      expect(oa).toContain(200);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
