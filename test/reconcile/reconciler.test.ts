import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log/types.ts";
import { FileDesiredProvider } from "../../src/reconcile/desired-provider.ts";
import { parseDesiredDocument } from "../../src/reconcile/desired-state.ts";
import { readActualState } from "../../src/reconcile/read-actual.ts";
import { systemClock } from "../../src/util/clock.ts";
import { recordingLogger } from "../proxmox/support/recording-logger.ts";
import { Rig } from "./support.ts";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe("Reconciler passes", () => {
  test("no desired state: one list call, nothing planned, nothing changed", async () => {
    rig = await Rig.start();
    const before = rig.sim.requestCount;
    const report = await rig.reconciler.runPass();
    expect(report.haveDesired).toBe(false);
    expect(report.planned).toEqual([]);
    expect(rig.sim.requestCount - before).toBe(1);
    expect(rig.store.journal.recent()).toEqual([]);
  });

  test("empty desired state leaves every guest as it is", async () => {
    rig = await Rig.start();
    rig.setDesired({ version: 1, guests: {} });
    const report = await rig.reconciler.runPass();
    expect(report.haveDesired).toBe(true);
    expect(report.planned).toEqual([]);
    expect(rig.sim.state.guest(101)?.running).toBe(true);
    expect(rig.sim.state.guest(102)?.running).toBe(false);
  });

  test("steady state costs one list call plus one config read per spec-managed guest", async () => {
    rig = await Rig.start();
    rig.setDesired({
      version: 1,
      guests: { "101": { run: "running", cores: 2 }, "102": { run: "stopped" }, "103": {} },
    });
    const before = rig.sim.requestCount;
    const report = await rig.reconciler.runPass();
    expect(report.planned).toEqual([]);
    expect(rig.sim.requestCount - before).toBe(2);
  });

  test("an idle pass logs at debug; a pass that plans work logs at info", async () => {
    const logger = recordingLogger();
    rig = await Rig.start({}, { logger });
    rig.setDesired({ version: 1, guests: { "101": { run: "running" } } });
    await rig.reconciler.runPass();
    rig.setDesired({
      version: 1,
      guests: { "101": { run: "running" }, "102": { run: "running" } },
    });
    await rig.reconciler.runPass();
    const passes = logger.records.filter((r) => r.msg === "reconcile pass");
    expect(passes.map((r) => [r.level, r.fields.planned])).toEqual([
      ["debug", 0],
      ["info", 1],
    ]);
  });

  test("a doomed action is retried a bounded number of times, then given up", async () => {
    rig = await Rig.start({ faults: { taskFail: ["vzstart"] } });
    rig.setDesired({ version: 1, guests: { "102": { run: "running" } } });
    const states: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await rig.reconciler.runPass();
      states.push(
        r.results.map((x) => x.state).join(",") || r.held.map((h) => h.verdict).join(","),
      );
    }
    // maxAttempts is 3 in the rig.
    expect(states).toEqual(["failed", "failed", "failed", "gave_up", "gave_up"]);
    expect(rig.store.journal.forGuest(102).map((e) => e.attempts)).toEqual([3, 2, 1]);
    // A new desired-state document lifts the give-up.
    rig.sim.setFaults({});
    await Bun.sleep(2);
    rig.setDesired({ version: 1, guests: { "102": { run: "running", cores: 2 } } });
    const after = await rig.reconciler.runPass();
    expect(after.results.map((r) => r.state)).toEqual(["done"]);
    expect(rig.store.journal.forGuest(102)[0]?.attempts).toBe(1);
  });

  test("a forbidden mutation needs an operator: given up after one attempt", async () => {
    rig = await Rig.start();
    // Only Sys.Audit + VM.Audit: reads work, the start is refused.
    rig.sim.state.access.roles.set("FelhomAgent", new Set(["VM.Audit", "Sys.Audit"]));
    rig.sim.state.access.changed();
    rig.setDesired({ version: 1, guests: { "102": { run: "running" } } });
    const first = await rig.reconciler.runPass();
    expect(first.results.map((r) => r.state)).toEqual(["failed"]);
    const second = await rig.reconciler.runPass();
    expect(second.held.map((h) => h.verdict)).toEqual(["gave_up"]);
    expect(second.held[0]?.detail).toBe("forbidden");
  });
});

describe("readActualState", () => {
  test("a config read failure keeps the run state and is reported", async () => {
    rig = await Rig.start();
    const desired = parseDesiredDocument(
      { version: 1, guests: { "101": { cores: 2 }, "102": { run: "running" } } },
      "test",
    );
    const failing = {
      listLXC: () => rig?.client.listLXC() ?? Promise.resolve([]),
      guestConfig: () => Promise.reject(new Error("HTTP 500")),
    };
    const r = await readActualState(failing, desired, { concurrency: 2 });
    expect(r.configReads).toBe(1);
    expect(r.configFailures).toBe(1);
    expect(r.actual.guests.get(101)?.status).toBe("running");
    expect(r.actual.guests.get(101)?.configError).toBe("HTTP 500");
    expect(r.actual.guests.get(102)?.config).toBeUndefined();
  });
});

describe("FileDesiredProvider", () => {
  test("persists a valid file; an invalid or missing one keeps the last good state", async () => {
    rig = await Rig.start();
    const dir = mkdtempSync(join(tmpdir(), "felhom-desired-"));
    try {
      const path = join(dir, "desired.json");
      const provider = new FileDesiredProvider({
        path,
        cache: rig.store.desired,
        logger: silentLogger,
        clock: systemClock,
      });
      let changes = 0;
      provider.onChange(() => changes++);
      expect(await provider.current()).toBeUndefined();
      writeFileSync(path, JSON.stringify({ version: 1, guests: { "101": { cores: 3 } } }));
      expect((await provider.current())?.guests.get(101)?.cores).toBe(3);
      expect(rig.store.desired.get()?.source).toBe(`file:${path}`);
      expect(changes).toBe(1);
      writeFileSync(path, '{"version": 1, "guests": {"101": {"cores": "four"}}}');
      expect((await provider.current())?.guests.get(101)?.cores).toBe(3);
      rmSync(path);
      expect((await provider.current())?.guests.get(101)?.cores).toBe(3);
      expect(changes).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
